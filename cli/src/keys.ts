import { type Keystore, loadKeystore, PkiError } from "@sealpost/pki";
import type { CliConfig } from "./config.js";
import { CliError, usageError } from "./errors.js";
import { readHead } from "./files.js";
import { type PinOptions, type PinSource, resolvePin } from "./pin.js";

/**
 * Loading the user's keystore with the PIN flow: `--key FILE` (PKCS#12) or `--key KEY.pem --cert CERT.pem`, with
 * defaults from the config's `keystore`/`cert`. A PIN is asked for only when the keystore needs one (PKCS#12, or an
 * encrypted PEM key). On a terminal a wrong PIN may be typed again (3 tries); from SEALPOST_PIN or --pin-file a wrong
 * PIN fails at once with PkiError BAD_PIN (exit 5).
 */
export interface KeyArgs {
  key?: string | undefined;
  cert?: string | undefined;
  pinFile?: string | undefined;
}

export interface LoadKeysContext {
  config: CliConfig;
  env?: NodeJS.ProcessEnv;
  /** PIN prompt plumbing (tests). */
  pin?: Omit<PinOptions, "pinFile" | "env">;
  warn?: (text: string) => void;
  /** Prints "wrong PIN, try again" between prompt attempts. */
  notice?: (text: string) => void;
}

/** Keystore and where its PIN came from (undefined when none was needed). */
export interface LoadedKeystore {
  keystore: Keystore;
  path: string;
  pinSource: PinSource | undefined;
}

const PROMPT_TRIES = 3;

export async function loadKeys(args: KeyArgs, ctx: LoadKeysContext): Promise<LoadedKeystore> {
  const path = args.key ?? ctx.config.keystore;
  if (!path) {
    throw usageError(
      "No keystore given.",
      'Pass --key FILE (a .p12 file, or a PEM key with --cert), or set "keystore" in the config file.',
    );
  }
  const certPath = args.cert ?? (args.key === undefined ? ctx.config.cert : undefined);
  const head = await readHead(path, `Cannot read the keystore ${path}`);
  const pem = head.toString("latin1");
  const isPem = pem.includes("-----BEGIN");
  let effectiveCert = certPath;
  if (isPem && pem.includes("PRIVATE KEY-----") && certPath === undefined) {
    if (pem.includes("-----BEGIN CERTIFICATE-----")) effectiveCert = path;
    else {
      throw usageError(
        `${path} is a PEM private key without its certificate.`,
        "Add --cert CERT.pem (the certificate of this key), or use the .p12 file.",
      );
    }
  }
  const env = ctx.env ?? process.env;
  if (isPem && !pem.includes("ENCRYPTED")) {
    return { keystore: await load(path, undefined, effectiveCert, undefined), path, pinSource: undefined };
  }
  if (!isPem && !looksLikePfx(head)) {
    // A DER private key: unencrypted ones need no PIN; an encrypted one answers BAD_PIN and the PIN is asked for.
    try {
      return { keystore: await load(path, undefined, effectiveCert, undefined), path, pinSource: undefined };
    } catch (e) {
      if ((e as { code?: unknown }).code !== "BAD_PIN") throw e;
    }
  }
  for (let attempt = 1; ; attempt++) {
    const { pin, source } = await resolvePin(path, {
      ...ctx.pin,
      pinFile: args.pinFile,
      env,
      ...(ctx.warn ? { onWarning: ctx.warn } : {}),
    });
    try {
      return { keystore: await load(path, pin, effectiveCert, source), path, pinSource: source };
    } catch (e) {
      if (source === "prompt" && attempt < PROMPT_TRIES && (e as { code?: unknown }).code === "BAD_PIN") {
        ctx.notice?.("wrong PIN, try again");
        continue;
      }
      throw e;
    }
  }
}

async function load(
  path: string,
  pin: string | undefined,
  certPath: string | undefined,
  source: PinSource | undefined,
): Promise<Keystore> {
  try {
    return await loadKeystore(path, certPath === undefined ? { pin } : { pin, certPath });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "BAD_PIN") {
      const where =
        source === "env"
          ? "Check the SEALPOST_PIN environment variable"
          : source === "pin-file"
            ? "Check the first line of the --pin-file file"
            : "Type the PIN of this keystore (not of another card or file)";
      throw new PkiError("BAD_PIN", `Wrong PIN for ${path}: the keystore could not be unlocked.`, {
        cause: e,
        hint: `${where}. Keystores have no PIN recovery: ask your certificate administrator if it is lost.`,
      });
    }
    if (code === "MALFORMED" || code === "NO_KEY") {
      throw new CliError("KEYSTORE", `Cannot open the keystore ${path}: ${(e as Error).message}`, {
        cause: e,
        hint:
          (e as { hint?: string }).hint ??
          "--key takes a PKCS#12 file (.p12/.pfx), or a PEM private key together with --cert.",
      });
    }
    throw e;
  }
}

/** True when DER bytes start like a PKCS#12 PFX: SEQUENCE { INTEGER 3, ... } (a certificate or key differs). */
export function looksLikePfx(b: Uint8Array): boolean {
  if (b[0] !== 0x30) return false;
  const len = b[1] ?? 0;
  const i = 2 + (len > 0x80 ? len & 0x7f : 0);
  return b[i] === 0x02 && b[i + 1] === 0x01 && b[i + 2] === 0x03;
}

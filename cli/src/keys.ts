import {
  isPkcs11Uri,
  type Keystore,
  looksLikePfx as pfxShape,
  openKeystore,
  type PinProvider,
  PkiError,
} from "@sealpost/pki";
import type { CliConfig } from "./config.js";
import { CliError, usageError } from "./errors.js";
import { readHead } from "./files.js";
import { type PinOptions, type PinSource, resolvePin } from "./pin.js";

/**
 * Loading the user's keys with the PIN flow: `--key FILE` (PKCS#12), `--key KEY.pem --cert CERT.pem` or
 * `--key "pkcs11:token=...;object=..."` (an IC card through PKCS#11), with defaults from the config's
 * `keystore`/`cert`/`pkcs11Module`. A PIN is asked for only when the keystore needs one (PKCS#12, an encrypted PEM
 * key, a token that requires a login). On a terminal a wrong PIN may be typed again (3 tries; a token's remaining
 * tries are shown when it reports them); from SEALPOST_PIN or --pin-file a wrong PIN fails at once with PkiError
 * BAD_PIN (exit 5).
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

/** Keystores opened by this process (token sessions): closed by closeOpenedKeystores() when the command ends. */
const opened = new Set<Keystore>();

/** Closes every keystore loadKeys opened (logs out of tokens). Called once a command has finished. */
export async function closeOpenedKeystores(): Promise<void> {
  const all = [...opened];
  opened.clear();
  for (const ks of all) await ks.close?.().catch(() => undefined);
}

const triesNote = (e: PkiError | undefined): string => {
  const t = (e?.details as { tries?: string } | undefined)?.tries;
  return t === "last" ? " (the token has one try left)" : t === "few" ? " (the token reports few tries left)" : "";
};

/**
 * Opens the keys `--key` names (or the config's keystore): a PKCS#12 file, a PEM key with --cert, or a PKCS#11
 * token as a `pkcs11:` URI (module from the URI's module-path or the config's pkcs11Module), through
 * @sealpost/pki's openKeystore. The PIN comes from --pin-file, SEALPOST_PIN or the prompt (see pin.ts).
 */
export async function loadKeys(args: KeyArgs, ctx: LoadKeysContext): Promise<LoadedKeystore> {
  const path = args.key ?? ctx.config.keystore;
  if (!path) {
    throw usageError(
      "No keystore given.",
      'Pass --key FILE (a .p12 file, a PEM key with --cert, or a pkcs11: URI), or set "keystore" in the config file.',
    );
  }
  const token = isPkcs11Uri(path);
  const certPath = args.cert ?? (args.key === undefined ? ctx.config.cert : undefined);
  let effectiveCert = certPath;
  if (!token) {
    const head = await readHead(path, `Cannot read the keystore ${path}`);
    const pem = head.toString("latin1");
    if (pem.includes("-----BEGIN") && pem.includes("PRIVATE KEY-----") && certPath === undefined) {
      if (pem.includes("-----BEGIN CERTIFICATE-----")) effectiveCert = path;
      else {
        throw usageError(
          `${path} is a PEM private key without its certificate.`,
          "Add --cert CERT.pem (the certificate of this key), or use the .p12 file.",
        );
      }
    }
  }
  const env = ctx.env ?? process.env;
  let pinSource: PinSource | undefined;
  const pin: PinProvider = async (req) => {
    if (req.attempt > 1) {
      if (pinSource !== "prompt" || req.attempt > PROMPT_TRIES) throw req.previous;
      ctx.notice?.(`wrong PIN, try again${triesNote(req.previous)}`);
    }
    const r = await resolvePin(req.target, {
      ...ctx.pin,
      pinFile: args.pinFile,
      env,
      ...(ctx.warn ? { onWarning: ctx.warn } : {}),
    });
    pinSource = r.source;
    return r.pin;
  };
  let keystore: Keystore;
  try {
    keystore = await openKeystore(path, {
      pin,
      maxAttempts: PROMPT_TRIES,
      ...(effectiveCert !== undefined ? { certPath: effectiveCert } : {}),
      ...(ctx.config.pkcs11Module ? { pkcs11Module: ctx.config.pkcs11Module } : {}),
    });
  } catch (e) {
    throw explain(e, path, token, pinSource);
  }
  if (keystore.close) opened.add(keystore);
  return { keystore, path, pinSource };
}

function explain(e: unknown, path: string, token: boolean, source: PinSource | undefined): unknown {
  const code = (e as { code?: unknown }).code;
  if (code === "BAD_PIN") {
    const where =
      source === "env"
        ? "Check the SEALPOST_PIN environment variable"
        : source === "pin-file"
          ? "Check the first line of the --pin-file file"
          : token
            ? "Type the PIN of this card"
            : "Type the PIN of this keystore (not of another card or file)";
    const message = token ? (e as Error).message : `Wrong PIN for ${path}: the keystore could not be unlocked.`;
    return new PkiError("BAD_PIN", message, {
      cause: e,
      hint: `${where}. ${token ? "Each wrong PIN uses up one of the card's tries." : "Keystores have no PIN recovery: ask your certificate administrator if it is lost."}`,
      ...((e as PkiError).details ? { details: (e as PkiError).details } : {}),
    });
  }
  if (!token && (code === "MALFORMED" || code === "NO_KEY")) {
    return new CliError("KEYSTORE", `Cannot open the keystore ${path}: ${(e as Error).message}`, {
      cause: e,
      hint:
        (e as { hint?: string }).hint ??
        "--key takes a PKCS#12 file (.p12/.pfx), a PEM private key together with --cert, or a pkcs11: URI.",
    });
  }
  return e;
}

/** True when DER bytes start like a PKCS#12 PFX (see @sealpost/pki looksLikePfx). */
export const looksLikePfx = pfxShape;

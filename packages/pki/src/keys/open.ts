import { open } from "node:fs/promises";
import { PkiError } from "../errors.js";
import { loadKeystore } from "../keystore/load.js";
import { TokenSession } from "../pkcs11/token.js";
import { isPkcs11Uri, parsePkcs11Uri } from "../pkcs11/uri.js";
import type { Keystore } from "../types.js";

/**
 * The one call that opens a user's keys, whatever holds them: a PKCS#12 file, a PEM/DER private key with its
 * certificate, or a PKCS#11 token named by an RFC 7512 `pkcs11:` URI. Every command gets its keys through it.
 */

/** A request for a PIN: what it unlocks and which attempt this is (1, 2, ...). */
export interface PinRequest {
  /** For the prompt: "fixtures/x.p12" or "token 王建民". */
  target: string;
  kind: "file" | "token";
  attempt: number;
  /** The failure of the previous attempt (BAD_PIN; details.tries when a token reports them). */
  previous?: PkiError;
}

/**
 * Supplies PINs. It may throw to stop (for example when the PIN came from a file or the environment and was
 * wrong: it then rethrows `previous`). PINs go only to the keystore decoder or to C_Login, never to a message.
 */
export type PinProvider = (request: PinRequest) => Promise<string>;

export interface OpenKeystoreOptions {
  /** Where PINs come from; without one, keystores that need a PIN fail with BAD_PIN. */
  pin?: PinProvider;
  /** Certificate file for a PEM/DER private key (extra certificates for a PKCS#12 file). */
  certPath?: string;
  /** PKCS#11 module used when the URI has no module-path. */
  pkcs11Module?: string;
  /** Attempts before a wrong PIN is final. Default 3. */
  maxAttempts?: number;
}

async function head(path: string): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const b = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return b.subarray(0, bytesRead);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PkiError("IO", `Cannot read the keystore file ${path} (${code ?? "read error"}).`, {
      cause: e,
      hint: "Check the path and that you may read the file.",
    });
  } finally {
    await fh?.close();
  }
}

/** True when DER bytes start like a PKCS#12 PFX: SEQUENCE { INTEGER 3, ... } (a certificate or key differs). */
export function looksLikePfx(b: Uint8Array): boolean {
  if (b[0] !== 0x30) return false;
  const len = b[1] ?? 0;
  const i = 2 + (len > 0x80 ? len & 0x7f : 0);
  return b[i] === 0x02 && b[i + 1] === 0x01 && b[i + 2] === 0x03;
}

async function withPin<T>(
  target: string,
  kind: PinRequest["kind"],
  options: OpenKeystoreOptions,
  attemptWith: (pin: string) => Promise<T>,
): Promise<T> {
  const max = options.maxAttempts ?? 3;
  let previous: PkiError | undefined;
  for (let attempt = 1; ; attempt++) {
    if (!options.pin) {
      throw new PkiError("BAD_PIN", `${kind === "token" ? "The token" : "The keystore"} ${target} needs a PIN.`, {
        hint: "Give the PIN through the prompt, the PIN environment variable or a PIN file.",
      });
    }
    const pin = await options.pin({ target, kind, attempt, ...(previous ? { previous } : {}) });
    try {
      return await attemptWith(pin);
    } catch (e) {
      if (!(e instanceof PkiError) || e.code !== "BAD_PIN" || attempt >= max) throw e;
      previous = e;
    }
  }
}

/**
 * Opens the keys `spec` names: a `pkcs11:` URI (module from its module-path, else options.pkcs11Module; the PIN goes
 * to C_Login, asked for only when the token requires a login) or a file path (a PIN is asked for only when the file
 * needs one: PKCS#12, encrypted PEM or DER keys). A wrong PIN asks the provider again, up to maxAttempts.
 * Throws PkiError IO, MALFORMED, BAD_PIN, PIN_LOCKED, TOKEN_MODULE, TOKEN_ABSENT, TOKEN, NO_KEY, UNSUPPORTED_ALGORITHM,
 * WEAK_KEY or WEAK_ALGORITHM. A token keystore holds a session open until its `close()`.
 */
export async function openKeystore(spec: string, options: OpenKeystoreOptions = {}): Promise<Keystore> {
  if (isPkcs11Uri(spec)) return openToken(spec, options);
  const bytes = await head(spec);
  const text = bytes.toString("latin1");
  const isPem = text.includes("-----BEGIN");
  const load = (pin: string | undefined) =>
    loadKeystore(spec, {
      ...(pin !== undefined ? { pin } : {}),
      ...(options.certPath ? { certPath: options.certPath } : {}),
    });
  if (isPem && !text.includes("ENCRYPTED")) return load(undefined);
  if (!isPem && !looksLikePfx(bytes)) {
    // A DER private key: an unencrypted one needs no PIN; an encrypted one answers BAD_PIN and the PIN is asked for.
    try {
      return await load(undefined);
    } catch (e) {
      if (!(e instanceof PkiError) || e.code !== "BAD_PIN") throw e;
    }
  }
  return withPin(spec, "file", options, (pin) => load(pin));
}

async function openToken(spec: string, options: OpenKeystoreOptions): Promise<Keystore> {
  const uri = parsePkcs11Uri(spec);
  const modulePath = uri.modulePath ?? options.pkcs11Module;
  if (!modulePath) {
    throw new PkiError("TOKEN_MODULE", "No PKCS#11 module is named for the token.", {
      hint: 'Add ?module-path=/path/to/module.so to the pkcs11: URI, or set "pkcs11Module" in the config file.',
    });
  }
  const session = TokenSession.open(uri, modulePath);
  try {
    if (session.loginRequired) {
      const status = session.pinStatus();
      if (status.locked) {
        throw new PkiError("PIN_LOCKED", `The PIN of the token ${session.label} is locked.`, {
          hint: "Ask your card administrator to unblock the card (with its PUK / SO PIN).",
          details: { tries: "locked" },
        });
      }
      await withPin(`token ${session.label}`, "token", options, async (pin) => session.login(pin));
    }
    return session.keystore();
  } catch (e) {
    session.close();
    throw e;
  }
}

import { createPrivateKey, type KeyObject } from "node:crypto";
import { type BerNode, decodeBer } from "../ber.js";
import { looksLikePem } from "../cert.js";
import { KEYSTORE_LIMITS } from "./asn1.js";
import { PkiError } from "../errors.js";

/**
 * Private keys from PEM or DER files: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", PBES2),
 * PKCS#1 ("RSA PRIVATE KEY", also OpenSSL's legacy Proc-Type encryption) and SEC1 ("EC PRIVATE KEY"). node:crypto
 * decodes them; the PIN is passed to it as the passphrase and never appears in an error.
 */

const KEY_BLOCK_RE = /-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

function badPin(cause: unknown, missing: boolean): PkiError {
  return missing
    ? new PkiError("BAD_PIN", "This private key is protected by a PIN (passphrase), and none was given.", {
        cause,
        hint: "Give the PIN through the prompt, the PIN environment variable or a PIN file.",
      })
    : new PkiError("BAD_PIN", "The PIN (passphrase) does not open this private key.", {
        cause,
        hint: "Type the PIN again; the PIN is never shown or logged.",
      });
}

function isEncryptedPem(block: string): boolean {
  return block.startsWith("-----BEGIN ENCRYPTED") || /Proc-Type:\s*4,ENCRYPTED/.test(block);
}

function loadPemBlock(block: string, pin: string | undefined): KeyObject {
  const encrypted = isEncryptedPem(block);
  if (encrypted && pin === undefined) throw badPin(undefined, true);
  try {
    return createPrivateKey(encrypted ? { key: block, format: "pem", passphrase: pin } : { key: block, format: "pem" });
  } catch (e) {
    if (encrypted) throw badPin(e, false);
    throw new PkiError("MALFORMED", "A private key in the PEM file cannot be read.", {
      cause: e,
      hint: "Export the key again (PKCS#8 PEM), e.g. `openssl pkcs8 -topk8`.",
    });
  }
}

/** The private keys of a PEM text (every key block, in order); certificates in the same text are ignored here. */
export function readPemPrivateKeys(text: string, pin: string | undefined): KeyObject[] {
  return [...text.matchAll(KEY_BLOCK_RE)].map((m) => loadPemBlock(m[0], pin));
}

/** True when the DER is shaped like EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTET STRING }. */
function looksLikeEncryptedPkcs8(der: Uint8Array): boolean {
  let top: BerNode;
  try {
    top = decodeBer(der, KEYSTORE_LIMITS);
  } catch {
    return false;
  }
  const [alg, data] = top.children;
  return (
    top.tag === 0x30 &&
    top.children.length === 2 &&
    alg?.tag === 0x30 &&
    alg.children[0]?.tag === 0x06 &&
    data?.tag === 0x04
  );
}

/** One private key from DER: PKCS#8, encrypted PKCS#8 (with `pin`), PKCS#1 or SEC1. */
export function readDerPrivateKey(der: Uint8Array, pin: string | undefined): KeyObject {
  const key = Buffer.from(der);
  if (looksLikeEncryptedPkcs8(der)) {
    if (pin === undefined) throw badPin(undefined, true);
    try {
      return createPrivateKey({ key, format: "der", type: "pkcs8", passphrase: pin });
    } catch (e) {
      throw badPin(e, false);
    }
  }
  for (const type of ["pkcs8", "pkcs1", "sec1"] as const) {
    try {
      return createPrivateKey({ key, format: "der", type });
    } catch {
      // try the next encoding
    }
  }
  throw new PkiError("MALFORMED", "The file is neither a PKCS#12 keystore nor a private key sealpost can read.", {
    hint: "Give a .p12/.pfx file, or a PEM/DER private key together with its certificate.",
  });
}

/** Private keys of a key file (PEM text or DER bytes). */
export function readPrivateKeys(bytes: Uint8Array, pin: string | undefined): KeyObject[] {
  if (looksLikePem(bytes)) return readPemPrivateKeys(Buffer.from(bytes).toString("utf8"), pin);
  return [readDerPrivateKey(bytes, pin)];
}

import { createPrivateKey, type KeyObject } from "node:crypto";
import { type BerNode, decodeBer } from "../ber.js";
import { looksLikePem } from "../cert.js";
import { algorithm, children, decode, KEYSTORE_LIMITS } from "./asn1.js";
import { PkiError } from "../errors.js";
import { KdfBudget, type KdfCost, recordKdfWork } from "./kdf-budget.js";
import { pbeCost } from "./pbe.js";

/**
 * Private keys from PEM or DER files: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", PBES2),
 * PKCS#1 ("RSA PRIVATE KEY", also OpenSSL's legacy Proc-Type encryption) and SEC1 ("EC PRIVATE KEY"). node:crypto
 * decodes them; the PIN is passed to it as the passphrase and never appears in an error. Before node derives a key,
 * the KDF of an encrypted PKCS#8 key is charged to the file's KdfBudget (PkiError KDF_LIMIT when over), except
 * scrypt, which OpenSSL bounds itself (32 MiB).
 */

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_SCRYPT = "1.3.6.1.4.1.11591.4.11";

/**
 * Charges the KDF of an EncryptedPrivateKeyInfo to `budget` (PkiError KDF_LIMIT, UNSUPPORTED_ALGORITHM, MALFORMED)
 * and returns its cost (undefined for scrypt), for recording once node has run it.
 */
function chargeEncryptedPkcs8(der: Uint8Array, budget: KdfBudget): KdfCost | undefined {
  const [algId] = children(decode(der, "encrypted private key"), "encrypted private key", 2, 2);
  const alg = algorithm(algId, "encrypted private key algorithm");
  if (alg.oid === OID_PBES2) {
    const kdf = algorithm(children(alg.params, "PBES2 parameters", 2, 2)[0], "PBES2 key derivation function");
    if (kdf.oid === OID_SCRYPT) return undefined;
  }
  const cost = pbeCost(algId);
  budget.charge(cost);
  return cost;
}

/** createPrivateKey with a passphrase, the KDF's work recorded. */
function decryptKey(options: Parameters<typeof createPrivateKey>[0], cost: KdfCost | undefined): KeyObject {
  try {
    return createPrivateKey(options);
  } finally {
    if (cost) recordKdfWork(cost);
  }
}

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

function loadPemBlock(block: string, pin: string | undefined, budget: KdfBudget): KeyObject {
  const encrypted = isEncryptedPem(block);
  if (encrypted && pin === undefined) throw badPin(undefined, true);
  const cost = block.startsWith("-----BEGIN ENCRYPTED")
    ? chargeEncryptedPkcs8(
        new Uint8Array(Buffer.from(block.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64")),
        budget,
      )
    : undefined;
  try {
    return decryptKey(encrypted ? { key: block, format: "pem", passphrase: pin } : { key: block, format: "pem" }, cost);
  } catch (e) {
    if (encrypted) throw badPin(e, false);
    throw new PkiError("MALFORMED", "A private key in the PEM file cannot be read.", {
      cause: e,
      hint: "Export the key again (PKCS#8 PEM), e.g. `openssl pkcs8 -topk8`.",
    });
  }
}

/**
 * The private keys of a PEM text (every key block, in order); certificates in the same text are ignored here.
 * `budget`: the key derivation allowed for the whole text (default: a fresh KdfBudget).
 */
export function readPemPrivateKeys(text: string, pin: string | undefined, budget = new KdfBudget()): KeyObject[] {
  return [...text.matchAll(KEY_BLOCK_RE)].map((m) => loadPemBlock(m[0], pin, budget));
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
export function readDerPrivateKey(der: Uint8Array, pin: string | undefined, budget = new KdfBudget()): KeyObject {
  const key = Buffer.from(der);
  if (looksLikeEncryptedPkcs8(der)) {
    if (pin === undefined) throw badPin(undefined, true);
    const cost = chargeEncryptedPkcs8(der, budget);
    try {
      return decryptKey({ key, format: "der", type: "pkcs8", passphrase: pin }, cost);
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

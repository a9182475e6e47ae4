import { constants, createHmac, type KeyObject, publicEncrypt, randomBytes } from "node:crypto";
import { ctEq, ctIsZero, ctLt, ctSelect, ctSelectBytes } from "./constant-time.js";
import { modulusBytes, rsaRawDecrypt } from "./rsa-raw.js";

/**
 * RSAES-PKCS1-v1_5 (RFC 8017 7.2) key transport. Encryption uses node:crypto. Node 20 refuses PKCS#1 v1.5
 * decryption (the Marvin attack), so decryption runs raw RSA and unpads here in constant-time style.
 *
 * Use rsaPkcs1v15DecryptImplicit (or pkcs1v15UnpadImplicit over a token's raw RSA) for CMS: it never reports a
 * padding error. On any failure it returns a key derived from the RSADP output and the ciphertext (implicit rejection, as in RFC 3218 and draft-irtf-cfrg-rsa-guidance), so
 * the caller's later content check fails the same way for a bad padding as for a wrong key or tampered content.
 */

/** Encrypts `data` (at most k - 11 bytes) with PKCS#1 v1.5 padding. Only for peers that cannot read RSA-OAEP. */
export function rsaPkcs1v15Encrypt(publicKey: KeyObject, data: Uint8Array): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, data);
}

/**
 * Scans EM = 00 02 PS 00 M without data-dependent branches. Returns good = 1 when the format holds with at least 8
 * padding bytes, and the index of the 00 separator.
 */
function scan(em: Uint8Array): { good: number; zeroIndex: number } {
  let good = ctEq(em[0]!, 0) & ctEq(em[1]!, 2);
  let found = 0;
  let zeroIndex = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = ctIsZero(em[i]!);
    zeroIndex = ctSelect(isZero & (found ^ 1), i, zeroIndex);
    found |= isZero;
  }
  good &= found & (ctLt(zeroIndex, 10) ^ 1); // PS is em[2..zeroIndex): at least 8 bytes
  return { good, zeroIndex };
}

/** Secret for the implicit-rejection key of ciphertexts that are invalid for public reasons (length, range). */
const PROCESS_SECRET = randomBytes(32);

/**
 * The implicit-rejection key: HMAC-SHA-256 keyed by a key-derivation key, expanded in counter mode to `length`
 * bytes. The key-derivation key is HMAC-SHA-256 of the ciphertext under the RSADP output `em` (c^d mod n: secret
 * for every ciphertext whose plaintext the sender does not already know, and the same each time, also when the
 * private key is on a token that only offers raw RSA), or under a per-process secret when there is no `em`.
 */
export function implicitRejectionKey(em: Uint8Array | undefined, ciphertext: Uint8Array, length: number): Buffer {
  const kdk = createHmac("sha256", em ?? PROCESS_SECRET)
    .update(ciphertext)
    .digest();
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(2);
  for (let i = 0, filled = 0; filled < length; i++) {
    counter.writeUInt16BE(i, 0);
    filled += createHmac("sha256", kdk)
      .update("sealpost pkcs1 implicit rejection")
      .update(counter)
      .digest()
      .copy(out, filled);
  }
  kdk.fill(0);
  return out;
}

/**
 * RSAES-PKCS1-v1_5 unpadding with implicit rejection of `em` (the k-byte RSADP output of `ciphertext`, undefined
 * when the ciphertext was invalid for public reasons): the message when the padding is valid and the message is
 * exactly `expectedLength` bytes, else the implicit-rejection key. The choice is branch-free.
 */
export function pkcs1v15UnpadImplicit(
  em: Uint8Array | undefined,
  ciphertext: Uint8Array,
  expectedLength: number,
): Buffer {
  const synthetic = implicitRejectionKey(em, ciphertext, expectedLength);
  if (!em || expectedLength > em.length - 11) return synthetic; // public conditions: ciphertext length/range, key size
  const k = em.length;
  const { good, zeroIndex } = scan(em);
  const ok = good & ctEq(k - zeroIndex - 1, expectedLength);
  const out = Buffer.alloc(expectedLength);
  ctSelectBytes(ok, em.subarray(k - expectedLength), synthetic, out);
  return out;
}

/**
 * Decrypts a PKCS#1 v1.5 ciphertext expected to hold exactly `expectedLength` bytes (16, 24 or 32 for an AES key).
 * Never fails on bad input: when the padding is wrong, the message length differs from `expectedLength` or the
 * ciphertext is not a valid RSA input, it returns a pseudo-random key of `expectedLength` bytes derived from the
 * ciphertext and its RSADP output (same ciphertext, same answer; see implicitRejectionKey).
 */
export function rsaPkcs1v15DecryptImplicit(privateKey: KeyObject, data: Uint8Array, expectedLength: number): Buffer {
  modulusBytes(privateKey);
  const em = rsaRawDecrypt(privateKey, data);
  const out = pkcs1v15UnpadImplicit(em, data, expectedLength);
  em?.fill(0);
  return out;
}

/**
 * Decrypts a PKCS#1 v1.5 ciphertext and returns the message, or null when the padding is invalid. The scan is
 * constant-time style; only the final verdict branches. Every invalid padding gives the same null. Prefer
 * rsaPkcs1v15DecryptImplicit in protocols (this one is an oracle if its outcome is observable).
 */
export function rsaPkcs1v15DecryptStrict(privateKey: KeyObject, data: Uint8Array): Buffer | null {
  const em = rsaRawDecrypt(privateKey, data);
  if (!em) return null;
  const { good, zeroIndex } = scan(em);
  const out = good === 1 ? Buffer.from(em.subarray(zeroIndex + 1)) : null;
  em.fill(0);
  return out;
}

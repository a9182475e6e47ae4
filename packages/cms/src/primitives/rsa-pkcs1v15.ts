import { constants, createHmac, type KeyObject, publicEncrypt } from "node:crypto";
import { ctEq, ctIsZero, ctLt, ctSelect, ctSelectBytes } from "./constant-time.js";
import { modulusBytes, rsaRawDecrypt } from "./rsa-raw.js";

/**
 * RSAES-PKCS1-v1_5 (RFC 8017 7.2) key transport. Encryption uses node:crypto. Node 20 refuses PKCS#1 v1.5
 * decryption (the Marvin attack), so decryption runs raw RSA and unpads here in constant-time style.
 *
 * Use rsaPkcs1v15DecryptImplicit for CMS: it never reports a padding error. On any failure it returns a key derived
 * from the private key and the ciphertext (implicit rejection, as in RFC 3218 and draft-irtf-cfrg-rsa-guidance), so
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

/**
 * The implicit-rejection key: HMAC-SHA-256 keyed by a key-derivation key (itself HMAC-SHA-256 of the ciphertext
 * under the private exponent), expanded in counter mode to `length` bytes. Deterministic per (key, ciphertext).
 */
function syntheticKey(privateKey: KeyObject, ciphertext: Uint8Array, length: number): Buffer {
  const d = Buffer.from(String(privateKey.export({ format: "jwk" }).d ?? ""), "base64url");
  const kdk = createHmac("sha256", d).update(ciphertext).digest();
  d.fill(0);
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
  return out;
}

/**
 * Decrypts a PKCS#1 v1.5 ciphertext expected to hold exactly `expectedLength` bytes (16, 24 or 32 for an AES key).
 * Never fails on bad input: when the padding is wrong, the message length differs from `expectedLength` or the
 * ciphertext is not a valid RSA input, it returns a pseudo-random key of `expectedLength` bytes derived from the
 * private key and the ciphertext (same ciphertext, same answer). The choice between the two is branch-free.
 */
export function rsaPkcs1v15DecryptImplicit(privateKey: KeyObject, data: Uint8Array, expectedLength: number): Buffer {
  const k = modulusBytes(privateKey);
  const synthetic = syntheticKey(privateKey, data, expectedLength);
  const em = rsaRawDecrypt(privateKey, data);
  if (!em || expectedLength > k - 11) return synthetic; // public conditions: ciphertext length/range, key size
  const { good, zeroIndex } = scan(em);
  const ok = good & ctEq(k - zeroIndex - 1, expectedLength);
  const out = Buffer.alloc(expectedLength);
  ctSelectBytes(ok, em.subarray(k - expectedLength), synthetic, out);
  em.fill(0);
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

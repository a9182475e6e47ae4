import { createCipheriv, createDecipheriv } from "node:crypto";
import { CmsError } from "../errors.js";

/**
 * Parameter checks for AES-GCM (RFC 5084) and AES-CBC (RFC 3565), shared by the streaming CMS code and the one-shot
 * helpers below. OpenSSL accepts some sizes the standards do not (short GCM tags, empty IVs), so the lengths are
 * checked here before node:crypto sees them. The one-shots are for key-sized data (tests, small structures).
 */

/** AES key lengths in bytes. */
export const AES_KEY_LENGTHS = [16, 24, 32] as const;

function malformed(message: string): CmsError {
  return new CmsError("MALFORMED", message, { hint: "The file may be corrupted or was written by a faulty program." });
}

/**
 * Longest GCM nonce accepted: 256 bytes, the limit of Node's OpenSSL binding (GCM itself allows longer nonces; no
 * CMS writer uses anything but 12 bytes).
 */
export const MAX_GCM_NONCE = 256;

/** Throws CmsError MALFORMED unless the key is 16, 24 or 32 bytes. */
export function aesKeyCheck(keyLength: number): void {
  if (!(AES_KEY_LENGTHS as readonly number[]).includes(keyLength)) {
    throw malformed(`An AES key must be 16, 24 or 32 bytes long, not ${keyLength}.`);
  }
}

/**
 * GCM parameters (RFC 5084 GCMParameters): the nonce must be 1 to MAX_GCM_NONCE bytes (12 is the norm and what
 * sealpost writes) and the ICV (tag) 12 to 16 bytes. Throws CmsError MALFORMED otherwise.
 */
export function gcmParamsCheck(ivLength: number, tagLength: number): void {
  if (ivLength < 1 || ivLength > MAX_GCM_NONCE) {
    throw malformed(`An AES-GCM nonce of ${ivLength} bytes is not supported (1 to ${MAX_GCM_NONCE} bytes).`);
  }
  if (tagLength < 12 || tagLength > 16) {
    throw malformed(`An AES-GCM tag of ${tagLength} bytes is not allowed (12 to 16 bytes).`);
  }
}

/** CBC parameters: a 16-byte IV. Throws CmsError MALFORMED otherwise. */
export function cbcParamsCheck(ivLength: number): void {
  if (ivLength !== 16) throw malformed(`An AES-CBC IV must be 16 bytes long, not ${ivLength}.`);
}

function gcmName(keyLength: number): "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm" {
  aesKeyCheck(keyLength);
  return `aes-${keyLength * 8}-gcm` as "aes-128-gcm";
}

function cbcName(keyLength: number): string {
  aesKeyCheck(keyLength);
  return `aes-${keyLength * 8}-cbc`;
}

/** One-shot AES-GCM encryption; returns ciphertext and tag (`tagLength` default 16). */
export function aesGcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
  tagLength = 16,
): { ciphertext: Buffer; tag: Buffer } {
  gcmParamsCheck(iv.length, tagLength);
  const c = createCipheriv(gcmName(key.length), key, iv, { authTagLength: tagLength });
  if (aad.length > 0) c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext, tag: c.getAuthTag() };
}

/**
 * One-shot AES-GCM decryption: the plaintext, or null when the tag does not verify. Invalid parameters (key, nonce
 * or tag length) throw CmsError MALFORMED.
 */
export function aesGcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Buffer | null {
  gcmParamsCheck(iv.length, tag.length);
  const d = createDecipheriv(gcmName(key.length), key, iv, { authTagLength: tag.length });
  d.setAuthTag(tag);
  if (aad.length > 0) d.setAAD(aad);
  const out = d.update(ciphertext);
  try {
    return Buffer.concat([out, d.final()]);
  } catch {
    out.fill(0);
    return null;
  }
}

/** One-shot AES-CBC encryption with PKCS#7 padding. */
export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Buffer {
  cbcParamsCheck(iv.length);
  const c = createCipheriv(cbcName(key.length), key, iv);
  return Buffer.concat([c.update(plaintext), c.final()]);
}

/**
 * One-shot AES-CBC decryption with PKCS#7 padding: the plaintext, or null when the ciphertext is not a non-empty
 * multiple of 16 bytes or the padding is wrong. Invalid key or IV lengths throw CmsError MALFORMED.
 */
export function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  cbcParamsCheck(iv.length);
  const name = cbcName(key.length);
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return null;
  const d = createDecipheriv(name, key, iv);
  const out = d.update(ciphertext);
  try {
    return Buffer.concat([out, d.final()]);
  } catch {
    out.fill(0);
    return null;
  }
}

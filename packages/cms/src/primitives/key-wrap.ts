import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { aesKeyCheck } from "./aes.js";

/**
 * Key wraps of the content key for ECDH recipients. AES Key Wrap (RFC 3394, default IV A6A6A6A6A6A6A6A6), the key-encryption of ECDH recipients (RFC 5753). node:crypto
 * (OpenSSL's id-aesNNN-wrap) does the block work; the lengths are checked here first, because OpenSSL accepts
 * inputs RFC 3394 forbids (an 8-byte key to wrap, a 16-byte wrapped key).
 */

const wrapName = (kekLength: number) => {
  aesKeyCheck(kekLength);
  return `id-aes${kekLength * 8}-wrap`;
};
const IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");

/** True when `n` bytes may be wrapped: a multiple of 8, at least 16 (two 64-bit blocks). */
export function wrappableLength(n: number): boolean {
  return n >= 16 && n % 8 === 0;
}

/** Wraps `key` (16+ bytes, a multiple of 8) under `kek` (16, 24 or 32 bytes). RangeError for other lengths. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Buffer {
  if (!wrappableLength(key.length))
    throw new RangeError(`AES key wrap takes 16+ bytes in 8-byte steps, not ${key.length}`);
  const c = createCipheriv(wrapName(kek.length), kek, IV);
  return Buffer.concat([c.update(key), c.final()]);
}

/**
 * Unwraps `wrapped` under `kek`: the key, or null when the integrity check fails or the length is not a valid
 * wrapped length (24+ bytes, a multiple of 8). One outcome for every failure.
 */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer | null {
  const name = wrapName(kek.length);
  if (!wrappableLength(wrapped.length - 8)) return null;
  try {
    const d = createDecipheriv(name, kek, IV);
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return null;
  }
}

/** RFC 3217 3.2 IV of the second 3DES encryption layer. */
const CMS3DES_IV2 = Buffer.from("4adda22c79e82105", "hex");

/**
 * Unwraps a Triple-DES key wrapped with id-alg-CMS3DESwrap (RFC 3217 3.2) under a 24-byte `kek`: read-only, for
 * files from older peers (OpenSSL 1.1.1 ECDH recipients with 3DES content). Returns the 24-byte key, or null when
 * the length or the integrity check value (SHA-1) is wrong. One outcome for every failure.
 */
export function tripleDesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer | null {
  if (kek.length !== 24 || wrapped.length !== 40) return null;
  try {
    const d1 = createDecipheriv("des-ede3-cbc", kek, CMS3DES_IV2).setAutoPadding(false);
    const temp3 = Buffer.concat([d1.update(wrapped), d1.final()]);
    const temp2 = Buffer.from(temp3).reverse();
    const d2 = createDecipheriv("des-ede3-cbc", kek, temp2.subarray(0, 8)).setAutoPadding(false);
    const cekIcv = Buffer.concat([d2.update(temp2.subarray(8)), d2.final()]);
    const cek = cekIcv.subarray(0, 24);
    const icv = createHash("sha1").update(cek).digest().subarray(0, 8);
    let diff = 0;
    for (let i = 0; i < 8; i++) diff |= icv[i]! ^ cekIcv[24 + i]!;
    return diff === 0 ? Buffer.from(cek) : null;
  } catch {
    return null;
  }
}

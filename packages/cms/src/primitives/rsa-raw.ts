import { constants, type KeyObject, privateDecrypt, publicEncrypt } from "node:crypto";
import { CmsError } from "../errors.js";

/**
 * Raw RSA (RSAEP/RSADP without padding) through node:crypto's RSA_NO_PADDING, for the paddings the project decodes
 * itself. Inputs and outputs are exactly k bytes (k = modulus length in bytes).
 */

/** Modulus length in bytes of an RSA key (public or private). CmsError UNSUPPORTED_ALGORITHM for non-RSA keys. */
export function modulusBytes(key: KeyObject): number {
  const t = key.asymmetricKeyType;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if ((t !== "rsa" && t !== "rsa-pss") || bits === undefined) {
    throw new CmsError("UNSUPPORTED_ALGORITHM", `An RSA key is needed here, not a ${t ?? "unknown"} key.`, {
      details: { keyType: t },
    });
  }
  return Math.ceil(bits / 8);
}

/**
 * RSADP: c^d mod n as k bytes, or undefined when the ciphertext is not a valid input (wrong length, >= n). Those
 * conditions depend only on public values (the ciphertext and the modulus).
 */
export function rsaRawDecrypt(privateKey: KeyObject, ciphertext: Uint8Array): Buffer | undefined {
  const k = modulusBytes(privateKey);
  if (ciphertext.length !== k) return undefined;
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
  } catch {
    return undefined;
  }
}

/** RSAEP: m^e mod n for a k-byte encoded message `em` (which must be below the modulus: callers start it with 00). */
export function rsaRawEncrypt(publicKey: KeyObject, em: Uint8Array): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em);
}

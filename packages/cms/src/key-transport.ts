import type { KeyObject } from "node:crypto";
import type { KeyTransportAlg } from "./algorithms.js";
import { rsaOaepDecrypt, rsaOaepEncrypt, rsaPkcs1v15DecryptImplicit, rsaPkcs1v15Encrypt } from "./primitives/index.js";

/** RSA key transport of the content-encryption key, over the project's RSA primitives (./primitives). */

/** Encrypt the CEK for one recipient: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) or RSAES-PKCS1-v1_5. */
export function wrapKey(publicKey: KeyObject, cek: Buffer, kind: "oaep" | "pkcs1"): Buffer {
  return kind === "oaep" ? rsaOaepEncrypt(publicKey, cek, "sha256", "sha256") : rsaPkcs1v15Encrypt(publicKey, cek);
}

/**
 * Decrypt the CEK. OAEP failures return undefined (the caller reports TAMPERED). PKCS#1 v1.5 never fails: an
 * invalid padding or a wrong length yields a pseudo-random key derived from the private key and the ciphertext
 * (implicit rejection, constant time), so the failure only shows at the tag/padding check, indistinguishable from
 * tampering.
 */
export function unwrapKey(
  privateKey: KeyObject,
  encryptedKey: Buffer,
  alg: KeyTransportAlg,
  keyLength: number,
): Buffer | undefined {
  if (alg.kind === "oaep") {
    const out = rsaOaepDecrypt(privateKey, encryptedKey, alg.oaep!);
    return out && out.length === keyLength ? out : undefined;
  }
  return rsaPkcs1v15DecryptImplicit(privateKey, encryptedKey, keyLength);
}

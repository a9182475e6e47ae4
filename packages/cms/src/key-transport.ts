import { constants, createHash, createHmac, privateDecrypt, publicEncrypt } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { KeyTransportAlg } from "./algorithms.js";

/**
 * RSA key transport of the content-encryption key. A thin seam over the RSA primitives: once
 * ./primitives/ lands, these functions delegate to it.
 */

/** Encrypt the CEK for one recipient: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) or RSAES-PKCS1-v1_5. */
export function wrapKey(publicKey: KeyObject, cek: Buffer, kind: "oaep" | "pkcs1"): Buffer {
  if (kind === "oaep") {
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, cek);
  }
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
}

/**
 * Decrypt the CEK. OAEP failures return undefined (the caller reports TAMPERED). PKCS#1 v1.5 never fails: an
 * invalid padding or a wrong length yields a pseudo-random key derived from the private key and the ciphertext
 * (implicit rejection), so the failure only shows at the tag/padding check, indistinguishable from tampering.
 */
export function unwrapKey(
  privateKey: KeyObject,
  encryptedKey: Buffer,
  alg: KeyTransportAlg,
  keyLength: number,
): Buffer | undefined {
  if (alg.kind === "oaep") {
    try {
      const out = privateDecrypt(
        {
          key: privateKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: alg.hash ?? "sha1",
          oaepLabel: alg.label,
        },
        encryptedKey,
      );
      return out.length === keyLength ? out : undefined;
    } catch {
      return undefined;
    }
  }
  return pkcs1Unpad(privateKey, encryptedKey, keyLength);
}

function pkcs1Unpad(privateKey: KeyObject, ct: Buffer, keyLength: number): Buffer {
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const kdk = createHash("sha256").update(der).digest();
  const synthetic = createHmac("sha256", kdk).update(ct).digest().subarray(0, keyLength);
  const padded = Buffer.alloc(Math.max(keyLength, 32));
  synthetic.copy(padded);
  const fallback = padded.subarray(0, keyLength);
  const k = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  let em: Buffer;
  try {
    if (ct.length !== k) return Buffer.from(fallback);
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct);
  } catch {
    return Buffer.from(fallback);
  }
  // Constant-time scan: valid iff em = 00 02 PS(>=8 nonzero) 00 M with |M| = keyLength.
  let good = ((em[0]! ^ 0x00) | (em[1]! ^ 0x02)) === 0 ? 1 : 0;
  let zeroIndex = 0;
  let found = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    const first = isZero & (found ^ 1);
    zeroIndex = first ? i : zeroIndex;
    found |= isZero;
  }
  good &= found & (zeroIndex >= 10 ? 1 : 0) & (em.length - zeroIndex - 1 === keyLength ? 1 : 0);
  const msg = Buffer.alloc(keyLength);
  em.copy(msg, 0, em.length - keyLength);
  const out = Buffer.alloc(keyLength);
  for (let i = 0; i < keyLength; i++) out[i] = good ? msg[i]! : fallback[i]!;
  return out;
}

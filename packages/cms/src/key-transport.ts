import type { KeyObject } from "node:crypto";
import { PkiError, type PrivateKeyHandle } from "@sealpost/pki";
import type { KeyTransportAlg } from "./algorithms.js";
import {
  implicitRejectionKey,
  oaepDecode,
  pkcs1v15UnpadImplicit,
  rsaOaepEncrypt,
  rsaPkcs1v15Encrypt,
} from "./primitives/index.js";

/** RSA key transport of the content-encryption key, over the project's RSA primitives (./primitives). */

/** Encrypt the CEK for one recipient: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) or RSAES-PKCS1-v1_5. */
export function wrapKey(publicKey: KeyObject, cek: Buffer, kind: "oaep" | "pkcs1"): Buffer {
  return kind === "oaep" ? rsaOaepEncrypt(publicKey, cek, "sha256", "sha256") : rsaPkcs1v15Encrypt(publicKey, cek);
}

const isUnsupported = (e: unknown) => e instanceof PkiError && e.code === "UNSUPPORTED_ALGORITHM";

/**
 * Decrypt the CEK with the recipient's key handle: one RSA operation wherever the key lives.
 *
 * OAEP: the key's holder removes the padding when it can (node:crypto, or the token's CKM_RSA_PKCS_OAEP); when it
 * cannot express the parameters (a token that does OAEP with SHA-1 only, MGF1 with another hash) it runs raw RSA
 * and the padding is removed here (constant-time). Failures return undefined (the caller reports TAMPERED).
 *
 * PKCS#1 v1.5 never fails: raw RSA, then implicit rejection here (an invalid padding or a wrong length yields a
 * pseudo-random key, so the failure only shows at the tag/padding check, indistinguishable from tampering). A
 * holder without raw RSA unpads itself; its refusal then becomes the same pseudo-random key.
 */
export async function unwrapKey(
  key: PrivateKeyHandle,
  encryptedKey: Buffer,
  alg: KeyTransportAlg,
  keyLength: number,
): Promise<Buffer | undefined> {
  if (alg.kind === "oaep") {
    const p = alg.oaep!;
    let out: Buffer | null;
    try {
      out = await key.rsaDecrypt(encryptedKey, { padding: "oaep", hash: p.hash, mgf1Hash: p.mgf1Hash, label: p.label });
    } catch (e) {
      if (!isUnsupported(e)) throw e;
      const em = await key.rsaDecrypt(encryptedKey, { padding: "raw" });
      out = em ? oaepDecode(em, p.hash, p.mgf1Hash, p.label ?? new Uint8Array(0)) : null;
      em?.fill(0);
    }
    return out && out.length === keyLength ? out : undefined;
  }
  let em: Buffer | null;
  try {
    em = await key.rsaDecrypt(encryptedKey, { padding: "raw" });
  } catch (e) {
    if (!isUnsupported(e)) throw e;
    const m = await key.rsaDecrypt(encryptedKey, { padding: "pkcs1" });
    return m && m.length === keyLength ? m : implicitRejectionKey(undefined, encryptedKey, keyLength);
  }
  const out = pkcs1v15UnpadImplicit(em ?? undefined, encryptedKey, keyLength);
  em?.fill(0);
  return out;
}

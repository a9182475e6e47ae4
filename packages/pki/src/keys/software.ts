import {
  constants,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  privateDecrypt,
  sign as nodeSign,
} from "node:crypto";
import { PkiError } from "../errors.js";
import type { KeyEntry } from "../types.js";
import type { PrivateKeyHandle, RsaDecryption, SignatureMechanism } from "./handle.js";

/** Field sizes in bits of the curves node:crypto names. */
export const CURVE_FIELD_BITS: Record<string, number> = {
  prime256v1: 256,
  secp384r1: 384,
  secp521r1: 521,
  secp256k1: 256,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

/** PkiError UNSUPPORTED_ALGORITHM for an operation a key (or its holder) cannot do. */
export function unsupportedKeyOperation(what: string, details: Record<string, unknown> = {}): PkiError {
  return new PkiError("UNSUPPORTED_ALGORITHM", `This key cannot do ${what}.`, {
    details: { operation: what, ...details },
  });
}

/** ECDH in this process; the peer must be an EC public key on `curve` (MALFORMED otherwise). */
export function softwareEcdh(privateKey: KeyObject, curve: string | undefined, peer: KeyObject): Buffer {
  if (peer.asymmetricKeyType !== "ec" || peer.asymmetricKeyDetails?.namedCurve !== curve) {
    throw new PkiError("MALFORMED", "The other party's key is not on the curve of this key.", {
      details: { curve, peerCurve: peer.asymmetricKeyDetails?.namedCurve ?? peer.asymmetricKeyType },
    });
  }
  return diffieHellman({ privateKey, publicKey: peer });
}

/**
 * A private key held in this process (from a PKCS#12 or PEM file): the operations run on node:crypto. RSA `oaep`
 * decryption is done here only when the MGF1 hash equals the hash (what OpenSSL can express); `pkcs1` decryption
 * is unsupported (Node 20 refuses it): callers use `raw` and remove the padding themselves.
 */
export class SoftwareKey implements PrivateKeyHandle {
  readonly algorithm: "rsa" | "ec";
  readonly bits: number;
  readonly curve: string | undefined;
  readonly publicKey: KeyObject;
  readonly location = "software" as const;

  constructor(
    readonly keyObject: KeyObject,
    readonly description = "private key in memory",
  ) {
    const t = keyObject.asymmetricKeyType;
    if (t !== "rsa" && t !== "ec") {
      throw new PkiError("UNSUPPORTED_ALGORITHM", `sealpost uses RSA and EC keys, not ${t ?? "this kind of"} keys.`, {
        details: { keyType: t },
      });
    }
    this.algorithm = t;
    const d = keyObject.asymmetricKeyDetails;
    this.curve = d?.namedCurve;
    this.bits = t === "rsa" ? (d?.modulusLength ?? 0) : (CURVE_FIELD_BITS[d?.namedCurve ?? ""] ?? 0);
    this.publicKey = createPublicKey(keyObject);
  }

  async sign(data: Uint8Array, mech: SignatureMechanism): Promise<Buffer> {
    if ((mech.scheme === "ecdsa") !== (this.algorithm === "ec")) {
      throw unsupportedKeyOperation(`${mech.scheme} signatures with an ${this.algorithm} key`);
    }
    if (mech.scheme === "ecdsa") return nodeSign(mech.hash, data, { key: this.keyObject, dsaEncoding: "der" });
    if (mech.scheme === "rsa-pss") {
      return nodeSign(mech.hash, data, {
        key: this.keyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: mech.saltLength,
      });
    }
    return nodeSign(mech.hash, data, { key: this.keyObject, padding: constants.RSA_PKCS1_PADDING });
  }

  async rsaDecrypt(ciphertext: Uint8Array, mode: RsaDecryption): Promise<Buffer | null> {
    if (this.algorithm !== "rsa") throw unsupportedKeyOperation("RSA decryption with an EC key");
    const k = Math.ceil(this.bits / 8);
    if (mode.padding === "raw") {
      if (ciphertext.length !== k) return null;
      try {
        return privateDecrypt({ key: this.keyObject, padding: constants.RSA_NO_PADDING }, ciphertext);
      } catch {
        return null; // c >= n: depends on public values only
      }
    }
    if (mode.padding === "oaep" && mode.hash === mode.mgf1Hash) {
      try {
        return privateDecrypt(
          {
            key: this.keyObject,
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: mode.hash,
            ...(mode.label && mode.label.length > 0 ? { oaepLabel: mode.label } : {}),
          },
          ciphertext,
        );
      } catch {
        return null;
      }
    }
    throw unsupportedKeyOperation(
      mode.padding === "oaep" ? `RSA-OAEP with ${mode.hash} and MGF1-${mode.mgf1Hash}` : "RSAES-PKCS1-v1_5 unpadding",
    );
  }

  async ecdh(peer: KeyObject): Promise<Buffer> {
    if (this.algorithm !== "ec") throw unsupportedKeyOperation("ECDH with an RSA key");
    return softwareEcdh(this.keyObject, this.curve, peer);
  }
}

/**
 * The handle of a keystore entry: `key` when set (tokens, and everything loadKeystore returns), else a SoftwareKey
 * around `privateKey` (entries built by hand). PkiError NO_KEY when the entry has neither.
 */
export function keyHandleOf(entry: KeyEntry): PrivateKeyHandle {
  if (entry.key) return entry.key;
  if (entry.privateKey) {
    const h = new SoftwareKey(entry.privateKey);
    entry.key = h;
    return h;
  }
  throw new PkiError(
    "NO_KEY",
    `There is no private key for the certificate of ${entry.cert.commonName || entry.cert.subject}.`,
  );
}

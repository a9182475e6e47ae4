import type { KeyObject } from "node:crypto";

/**
 * The one way sealpost uses a private key: through a handle that signs, decrypts and derives where the key lives
 * (in this process for PKCS#12/PEM keys, on a PKCS#11 token for IC cards). Every operation is asynchronous, since a
 * token operation is a call into a native module; callers never need a node KeyObject for the private half.
 */

/** Hashes a handle signs with (SHA-1 only for old material that callers refuse before signing). */
export type SignHash = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

/** A signature scheme and its hash. The handle hashes `data` itself. */
export type SignatureMechanism =
  | { scheme: "rsa-pkcs1"; hash: SignHash }
  | { scheme: "rsa-pss"; hash: SignHash; saltLength: number }
  | { scheme: "ecdsa"; hash: SignHash };

/**
 * An RSA decryption: `raw` is RSADP (c^d mod n, exactly k bytes: the caller removes the padding), `oaep` removes
 * OAEP padding with the given hashes and label, `pkcs1` removes RSAES-PKCS1-v1_5 padding (an oracle: callers prefer
 * `raw` and implicit rejection, and use it only where `raw` is unsupported).
 */
export type RsaDecryption =
  | { padding: "raw" }
  | { padding: "oaep"; hash: SignHash; mgf1Hash: SignHash; label?: Uint8Array }
  | { padding: "pkcs1" };

/** Where a private key lives. */
export type KeyLocation = "software" | "token";

/** A private key usable by sealpost, whatever holds it. */
export interface PrivateKeyHandle {
  /** "rsa" or "ec". */
  readonly algorithm: "rsa" | "ec";
  /** RSA modulus bits, or the EC field size in bits (256 for P-256). */
  readonly bits: number;
  /** node:crypto curve name of an EC key ("prime256v1", "secp384r1", "secp521r1"). */
  readonly curve: string | undefined;
  /** The matching public key. */
  readonly publicKey: KeyObject;
  readonly location: KeyLocation;
  /** For messages: "key in file.p12" or "token 王建民 object sign". Never a secret. */
  readonly description: string;
  /** Signs `data` (hashed here with mech.hash). ECDSA signatures are DER Ecdsa-Sig-Value. */
  sign(data: Uint8Array, mech: SignatureMechanism): Promise<Buffer>;
  /**
   * RSA decryption. Resolves null when the decryption failed (invalid ciphertext or padding); rejects with PkiError
   * UNSUPPORTED_ALGORITHM when this key's holder cannot do `mode` (the caller may then use another mode).
   */
  rsaDecrypt(ciphertext: Uint8Array, mode: RsaDecryption): Promise<Buffer | null>;
  /**
   * ECDH (cofactor 1 curves: the plain and cofactor variants agree) with `peer`, a public key on this key's curve:
   * resolves the shared secret Z (the x coordinate, field-size bytes). Rejects with PkiError MALFORMED when the
   * peer key is not on this curve.
   */
  ecdh(peer: KeyObject): Promise<Buffer>;
}

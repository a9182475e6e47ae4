import { type KeyObject, verify } from "node:crypto";
import { curveOf } from "./ec.js";
import type { HashName } from "./hashes.js";

/**
 * ECDSA verification for SignerInfos (RFC 5753 / RFC 5758): the signature is a DER Ecdsa-Sig-Value. node:crypto
 * (OpenSSL 3) re-encodes the parsed signature and refuses any other encoding, and checks r and s are in [1, n-1].
 */

/** True when `sig` is a valid DER ECDSA signature over `data` hashed with `hash` (EC keys on P-256/384/521). */
export function ecdsaVerify(publicKey: KeyObject, data: Uint8Array, sig: Uint8Array, hash: HashName): boolean {
  const curve = curveOf(publicKey);
  // r and s are at most as long as the order (plus a sign byte), in a SEQUENCE: anything longer is not a signature.
  if (sig.length > 2 * (curve.fieldBytes + 1) + 8) return false;
  try {
    return verify(hash, data, { key: publicKey, dsaEncoding: "der" }, sig);
  } catch {
    return false;
  }
}

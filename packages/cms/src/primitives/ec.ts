import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import type { PrivateKeyHandle } from "@sealpost/pki";
import { CmsError } from "../errors.js";
import type { HashName } from "./hashes.js";

/**
 * Elliptic-curve helpers of ECDH recipients (RFC 5753) and ECDSA: curves, public keys from wire bytes (refused
 * unless a valid point of the expected named curve), ECDH through a key handle, and the ANSI X9.63 KDF.
 */

/** A named curve sealpost uses: node:crypto name, OID, field size in bytes. */
export interface Curve {
  name: "prime256v1" | "secp384r1" | "secp521r1";
  oid: string;
  fieldBytes: number;
  label: string;
}

export const CURVES: Record<string, Curve> = {
  prime256v1: { name: "prime256v1", oid: "1.2.840.10045.3.1.7", fieldBytes: 32, label: "P-256" },
  secp384r1: { name: "secp384r1", oid: "1.3.132.0.34", fieldBytes: 48, label: "P-384" },
  secp521r1: { name: "secp521r1", oid: "1.3.132.0.35", fieldBytes: 66, label: "P-521" },
};

export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";

function badKey(message: string): CmsError {
  return new CmsError("MALFORMED", message, { hint: "The file may be corrupted or was written by a faulty program." });
}

/** The curve of an EC key (public or private); CmsError UNSUPPORTED_ALGORITHM for other keys and curves. */
export function curveOf(key: KeyObject): Curve {
  const c = key.asymmetricKeyType === "ec" ? CURVES[key.asymmetricKeyDetails?.namedCurve ?? ""] : undefined;
  if (!c) {
    throw new CmsError(
      "UNSUPPORTED_ALGORITHM",
      `sealpost uses EC keys on P-256, P-384 and P-521, not ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType}.`,
    );
  }
  return c;
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
}

function oidBytes(oid: string): Buffer {
  const parts = oid.split(".").map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const b: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) b.unshift((v & 0x7f) | 0x80);
    out.push(...b);
  }
  return Buffer.concat([Buffer.from([0x06, out.length]), Buffer.from(out)]);
}

/**
 * The public key of an ECPoint (SEC 1 2.3.4: 04 || X || Y, or the compressed 02/03 || X) on `curve`. CmsError
 * MALFORMED when the encoding has the wrong length or form, or the point is not on the curve (invalid-curve points,
 * the point at infinity).
 */
export function ecPublicKeyFromPoint(curve: Curve, point: Uint8Array): KeyObject {
  const f = curve.fieldBytes;
  const form = point[0];
  const ok =
    (form === 0x04 && point.length === 1 + 2 * f) || ((form === 0x02 || form === 0x03) && point.length === 1 + f);
  if (!ok) throw badKey(`An EC public key is not a ${curve.label} point (length ${point.length}, form ${form}).`);
  const alg = Buffer.concat([oidBytes(OID_EC_PUBLIC_KEY), oidBytes(curve.oid)]);
  const algSeq = Buffer.concat([Buffer.from([0x30]), derLength(alg.length), alg]);
  const bits = Buffer.concat([Buffer.from([0x03]), derLength(point.length + 1), Buffer.from([0]), point]);
  const body = Buffer.concat([algSeq, bits]);
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]),
      format: "der",
      type: "spki",
    });
  } catch (e) {
    throw new CmsError("MALFORMED", `An EC public key is not a point on ${curve.label}.`, { cause: e });
  }
  return key;
}

/**
 * An EC public key from SubjectPublicKeyInfo DER, which must name `curve` (explicit parameters, other curves and
 * invalid points are refused: CmsError MALFORMED).
 */
export function ecPublicKeyFromSpki(der: Uint8Array, curve: Curve): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
  } catch (e) {
    throw new CmsError("MALFORMED", "The EC public key cannot be read.", { cause: e });
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== curve.name) {
    throw badKey(`The public key is not on ${curve.label}.`);
  }
  // Only the named-curve form: explicit curve parameters (which OpenSSL maps to a named curve even when the cofactor
  // or other fields were altered) are refused.
  const spki = asn1js.fromBER(der);
  const alg = spki.result instanceof asn1js.Sequence ? spki.result.valueBlock.value[0] : undefined;
  const params = alg instanceof asn1js.Sequence ? alg.valueBlock.value[1] : undefined;
  if (!(params instanceof asn1js.ObjectIdentifier) || params.valueBlock.toString() !== curve.oid) {
    throw badKey(`The public key does not name the curve ${curve.label}.`);
  }
  return key;
}

/** The uncompressed point 04 || X || Y of an EC public key. */
export function ecPointOf(key: KeyObject): Buffer {
  const c = curveOf(key);
  const jwk = key.export({ format: "jwk" });
  const x = Buffer.from(String(jwk.x), "base64url");
  const y = Buffer.from(String(jwk.y), "base64url");
  const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(c.fieldBytes - b.length), b]);
  return Buffer.concat([Buffer.from([4]), pad(x), pad(y)]);
}

/**
 * ECDH between `key` (a handle: in this process or on a token) and `peer`: the shared secret Z. CmsError
 * MALFORMED when `peer` is not on the handle's curve.
 */
export async function ecdhSharedSecret(key: PrivateKeyHandle, peer: KeyObject): Promise<Buffer> {
  if (
    key.algorithm !== "ec" ||
    peer.asymmetricKeyType !== "ec" ||
    peer.asymmetricKeyDetails?.namedCurve !== key.curve
  ) {
    throw badKey(
      `The other party's key (${peer.asymmetricKeyDetails?.namedCurve ?? peer.asymmetricKeyType}) is not on the curve of your key (${key.curve ?? key.algorithm}).`,
    );
  }
  return key.ecdh(peer);
}

/** ANSI X9.63 KDF (SEC 1 3.6.1): Hash(Z || counter || sharedInfo) for counter = 1, 2 ... truncated to `length`. */
export function x963Kdf(hash: HashName, z: Uint8Array, sharedInfo: Uint8Array, length: number): Buffer {
  const parts: Buffer[] = [];
  const counter = Buffer.alloc(4);
  let have = 0;
  for (let i = 1; have < length; i++) {
    counter.writeUInt32BE(i, 0);
    const d = createHash(hash).update(z).update(counter).update(sharedInfo).digest();
    parts.push(d);
    have += d.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

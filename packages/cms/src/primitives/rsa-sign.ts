import { constants, type KeyObject, sign, verify } from "node:crypto";
import * as asn1js from "asn1js";
import { CmsError } from "../errors.js";
import {
  explicitChild,
  HASH_LENGTHS,
  type HashName,
  hashAlgorithmIdentifier,
  malformedParams,
  parseHashAlgorithmIdentifier,
  toBlock,
} from "./hashes.js";
import { mgf1AlgorithmIdentifier, parseMgf1, tagged } from "./rsa-oaep.js";
import { modulusBytes } from "./rsa-raw.js";

/**
 * RSA signatures for SignerInfos: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 8017 8), through node:crypto, plus the
 * RSASSA-PSS-params codec (RFC 4055). PSS with an MGF1 hash different from the message hash, or a trailer field
 * other than 1, is refused with UNSUPPORTED_ALGORITHM (Node cannot express it and no peer writes it).
 */

export const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";

/** Signature scheme and hash; `saltLength` (PSS only) defaults to the hash length. */
export interface RsaSignatureOptions {
  scheme: "pkcs1" | "pss";
  hash: HashName;
  saltLength?: number;
}

/** RSASSA-PSS parameters as sealpost supports them (MGF1 with the same hash, trailer field 1). */
export interface PssParams {
  hash: HashName;
  saltLength: number;
}

function padding(opts: RsaSignatureOptions) {
  return opts.scheme === "pss"
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: opts.saltLength ?? HASH_LENGTHS[opts.hash] }
    : { padding: constants.RSA_PKCS1_PADDING };
}

/** Signs `data` (hashing it with opts.hash). */
export function rsaSign(privateKey: KeyObject, data: Uint8Array, opts: RsaSignatureOptions): Buffer {
  modulusBytes(privateKey);
  return sign(opts.hash, data, { key: privateKey, ...padding(opts) });
}

/**
 * Verifies a signature over `data`. Returns false for any invalid signature, including one whose length is not the
 * modulus length (RFC 8017 8.2.2 step 1) and, for PSS, one whose salt length differs from opts.saltLength.
 */
export function rsaVerify(
  publicKey: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
  opts: RsaSignatureOptions,
): boolean {
  if (signature.length !== modulusBytes(publicKey)) return false;
  try {
    return verify(opts.hash, data, { key: publicKey, ...padding(opts) }, signature);
  } catch {
    return false;
  }
}

function unsupported(message: string): CmsError {
  return new CmsError("UNSUPPORTED_ALGORITHM", message, {
    hint: "Ask the sender to sign with RSA-PSS over SHA-256 and MGF1-SHA-256, or with PKCS#1 v1.5 and SHA-256.",
  });
}

function smallInteger(block: asn1js.AsnType | undefined, what: string): number {
  if (!(block instanceof asn1js.Integer)) throw malformedParams(what);
  const v = block.valueBlock.valueHexView;
  if (v.length === 0 || v.length > 4 || (v[0]! & 0x80) !== 0) throw malformedParams(what);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/**
 * Parses RSASSA-PSS-params: hashAlgorithm [0] (default SHA-1), maskGenAlgorithm [1] (default MGF1-SHA-1),
 * saltLength [2] (default 20), trailerField [3] (default 1). Absent parameters mean all defaults.
 * CmsError UNSUPPORTED_ALGORITHM when the MGF1 hash differs from the hash or the trailer field is not 1.
 */
export function parseRsassaPssParams(input: Uint8Array | asn1js.AsnType | undefined): PssParams {
  const block = toBlock(input, "RSA-PSS");
  let hash: HashName = "sha1";
  let mgf1Hash: HashName = "sha1";
  let saltLength = 20;
  let trailer = 1;
  if (block !== undefined) {
    if (!(block instanceof asn1js.Sequence)) throw malformedParams("RSA-PSS");
    let lastTag = -1;
    for (const field of block.valueBlock.value) {
      const tag = field.idBlock.tagNumber;
      const inner = explicitChild(field, tag);
      if (field.idBlock.tagClass !== 3 || tag <= lastTag || tag > 3 || !inner) throw malformedParams("RSA-PSS");
      lastTag = tag;
      if (tag === 0) hash = parseHashAlgorithmIdentifier(inner, "RSA-PSS hash");
      else if (tag === 1) mgf1Hash = parseMgf1(inner, "RSA-PSS mask generation");
      else if (tag === 2) saltLength = smallInteger(inner, "RSA-PSS salt length");
      else trailer = smallInteger(inner, "RSA-PSS trailer field");
    }
  }
  if (mgf1Hash !== hash) unsupportedThrow(`RSA-PSS with hash ${hash} but MGF1 over ${mgf1Hash} is not supported.`);
  if (trailer !== 1) unsupportedThrow(`RSA-PSS with trailer field ${trailer} is not supported.`);
  return { hash, saltLength };
}

function unsupportedThrow(message: string): never {
  throw unsupported(message);
}

/** DER of RSASSA-PSS-params for `hash`, MGF1 with the same hash, `saltLength` (default: the hash length). */
export function encodeRsassaPssParams(hash: HashName, saltLength: number = HASH_LENGTHS[hash]): Uint8Array {
  const fields: asn1js.AsnType[] = [];
  if (hash !== "sha1") {
    fields.push(tagged(0, hashAlgorithmIdentifier(hash)));
    fields.push(tagged(1, mgf1AlgorithmIdentifier(hash)));
  }
  if (saltLength !== 20) fields.push(tagged(2, new asn1js.Integer({ value: saltLength })));
  return new Uint8Array(new asn1js.Sequence({ value: fields }).toBER());
}

import { constants, createHash, type KeyObject, privateDecrypt, publicEncrypt, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import { CmsError } from "../errors.js";
import { ctBytesEqual, ctEq, ctIsZero, ctSelect } from "./constant-time.js";
import {
  explicitChild,
  HASH_LENGTHS,
  type HashName,
  hashAlgorithmIdentifier,
  malformedParams,
  parseHashAlgorithmIdentifier,
  toBlock,
} from "./hashes.js";
import { mgf1 } from "./mgf1.js";
import { modulusBytes, rsaRawDecrypt, rsaRawEncrypt } from "./rsa-raw.js";

/**
 * RSAES-OAEP (RFC 8017 7.1) for key transport. When the OAEP hash and the MGF1 hash are the same, node:crypto
 * (OpenSSL) does the work; when they differ, which Node's options cannot express, OAEP encoding and decoding run
 * here over raw RSA, decoding in constant-time style (no data-dependent branch before the final verdict).
 */

export const OID_RSAES_OAEP = "1.2.840.113549.1.1.7";
export const OID_MGF1 = "1.2.840.113549.1.1.8";
export const OID_P_SPECIFIED = "1.2.840.113549.1.1.9";

/** OAEP parameters. `label` defaults to empty (the only value CMS files may carry, see parseRsaesOaepParams). */
export interface OaepParams {
  hash: HashName;
  mgf1Hash: HashName;
  label?: Uint8Array;
}

/**
 * Encrypts `data` (a content-encryption key: at most k - 2*hLen - 2 bytes) with RSA-OAEP and an empty label.
 * Defaults: SHA-256 and MGF1 with the same hash.
 */
export function rsaOaepEncrypt(
  publicKey: KeyObject,
  data: Uint8Array,
  hash: HashName = "sha256",
  mgf1Hash: HashName = hash,
): Buffer {
  const k = modulusBytes(publicKey);
  const hLen = HASH_LENGTHS[hash];
  if (data.length > k - 2 * hLen - 2) {
    throw new CmsError("UNSUPPORTED_ALGORITHM", "The key to transport is too long for RSA-OAEP with this RSA key.", {
      details: { dataBytes: data.length, modulusBytes: k },
    });
  }
  if (mgf1Hash === hash) {
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  }
  // EM = 00 || maskedSeed || maskedDB, DB = lHash || PS || 01 || M  (RFC 8017 7.1.1)
  const db = Buffer.alloc(k - hLen - 1);
  createHash(hash).update(Buffer.alloc(0)).digest().copy(db, 0);
  db[db.length - data.length - 1] = 0x01;
  Buffer.from(data).copy(db, db.length - data.length);
  const seed = randomBytes(hLen);
  const dbMask = mgf1(mgf1Hash, seed, db.length);
  for (let i = 0; i < db.length; i++) db[i] = db[i]! ^ dbMask[i]!;
  const seedMask = mgf1(mgf1Hash, db, hLen);
  for (let i = 0; i < hLen; i++) seed[i] = seed[i]! ^ seedMask[i]!;
  return rsaRawEncrypt(publicKey, Buffer.concat([Buffer.from([0]), seed, db]));
}

/**
 * Decrypts an RSA-OAEP ciphertext. Returns the message, or null when decryption fails for any reason (wrong key,
 * tampered ciphertext, wrong length): one outcome, so a caller cannot tell padding errors apart.
 */
export function rsaOaepDecrypt(privateKey: KeyObject, data: Uint8Array, params: OaepParams): Buffer | null {
  const label = params.label ?? new Uint8Array(0);
  if (params.mgf1Hash === params.hash) {
    try {
      return privateDecrypt(
        {
          key: privateKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: params.hash,
          ...(label.length > 0 ? { oaepLabel: label } : {}),
        },
        data,
      );
    } catch {
      return null;
    }
  }
  return oaepDecodeRaw(privateKey, data, params.hash, params.mgf1Hash, label);
}

/** RFC 8017 7.1.2 over raw RSA in this process. */
function oaepDecodeRaw(
  privateKey: KeyObject,
  data: Uint8Array,
  hash: HashName,
  mgf1Hash: HashName,
  label: Uint8Array,
): Buffer | null {
  const em = rsaRawDecrypt(privateKey, data);
  if (!em) return null; // depends on public data only (length, range)
  return oaepDecode(em, hash, mgf1Hash, label);
}

/**
 * EME-OAEP decoding (RFC 8017 7.1.2 step 3) of `em`, the k-byte RSADP output (from this process or from a token's
 * raw RSA): every check is folded into one `good` bit examined once at the end. Returns the message or null.
 */
export function oaepDecode(em: Uint8Array, hash: HashName, mgf1Hash: HashName, label: Uint8Array): Buffer | null {
  const hLen = HASH_LENGTHS[hash];
  if (em.length < 2 * hLen + 2) return null;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seedMask = mgf1(mgf1Hash, maskedDb, hLen);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1(mgf1Hash, seed, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;
  const lHash = createHash(hash).update(label).digest();
  let good = ctEq(em[0]!, 0) & ctBytesEqual(db.subarray(0, hLen), lHash);
  // After lHash: zero or more 00 bytes, then 01, then the message.
  let lookingForOne = 1;
  let oneIndex = 0;
  let invalidByte = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const isOne = ctEq(b, 1);
    const isZero = ctIsZero(b);
    oneIndex = ctSelect(lookingForOne & isOne, i, oneIndex);
    invalidByte |= lookingForOne & (isOne ^ 1) & (isZero ^ 1);
    lookingForOne &= isOne ^ 1;
  }
  good &= (lookingForOne ^ 1) & (invalidByte ^ 1);
  if (good !== 1) return null;
  return Buffer.from(db.subarray(oneIndex + 1));
}

function mgf1AlgorithmIdentifier(hash: HashName): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: OID_MGF1 }), hashAlgorithmIdentifier(hash)],
  });
}

function tagged(tag: number, inner: asn1js.AsnType): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: tag }, value: [inner] });
}

/** Reads a MaskGenAlgorithm: only MGF1 is known; returns its hash. */
export function parseMgf1(block: asn1js.AsnType | undefined, what: string): HashName {
  if (!(block instanceof asn1js.Sequence)) throw malformedParams(what);
  const [oid, params] = block.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier)) throw malformedParams(what);
  const id = oid.valueBlock.toString();
  if (id !== OID_MGF1) {
    throw new CmsError("UNSUPPORTED_ALGORITHM", `The mask generation function ${id} is not supported (only MGF1).`, {
      details: { algorithm: id },
    });
  }
  return parseHashAlgorithmIdentifier(params, `${what} hash`);
}

/**
 * Parses RSAES-OAEP-params (RFC 8017 A.2.1 / RFC 4055): hashFunc [0] (default SHA-1), maskGenFunc [1] (default
 * MGF1-SHA-1), pSourceFunc [2] (default empty label). Absent parameters mean all defaults. A non-empty label, a
 * mask function other than MGF1 or an unknown hash gives CmsError UNSUPPORTED_ALGORITHM; bad encoding MALFORMED.
 */
export function parseRsaesOaepParams(input: Uint8Array | asn1js.AsnType | undefined): OaepParams {
  const block = toBlock(input, "RSA-OAEP");
  const out: OaepParams = { hash: "sha1", mgf1Hash: "sha1" };
  if (block === undefined) return out;
  if (!(block instanceof asn1js.Sequence)) throw malformedParams("RSA-OAEP");
  let lastTag = -1;
  for (const field of block.valueBlock.value) {
    const tag = field.idBlock.tagNumber;
    const inner = explicitChild(field, tag);
    if (field.idBlock.tagClass !== 3 || tag <= lastTag || tag > 2 || !inner) throw malformedParams("RSA-OAEP");
    lastTag = tag;
    if (tag === 0) out.hash = parseHashAlgorithmIdentifier(inner, "RSA-OAEP hash");
    else if (tag === 1) out.mgf1Hash = parseMgf1(inner, "RSA-OAEP mask generation");
    else {
      if (!(inner instanceof asn1js.Sequence)) throw malformedParams("RSA-OAEP label");
      const [oid, value] = inner.valueBlock.value;
      if (!(oid instanceof asn1js.ObjectIdentifier) || oid.valueBlock.toString() !== OID_P_SPECIFIED) {
        throw new CmsError("UNSUPPORTED_ALGORITHM", "The RSA-OAEP label source is not supported.", {});
      }
      if (!(value instanceof asn1js.OctetString)) throw malformedParams("RSA-OAEP label");
      if (value.valueBlock.valueHexView.length > 0) {
        throw new CmsError("UNSUPPORTED_ALGORITHM", "RSA-OAEP with a non-empty label is not supported.", {
          hint: "Ask the sender to use RSA-OAEP with SHA-256 and no label (sealpost's default).",
        });
      }
    }
  }
  return out;
}

/**
 * DER of RSAES-OAEP-params for `hash` with MGF1 over `mgf1Hash` (default the same) and an empty label; fields equal
 * to the SHA-1 defaults are omitted as DER requires.
 */
export function encodeRsaesOaepParams(hash: HashName, mgf1Hash: HashName = hash): Uint8Array {
  const fields: asn1js.AsnType[] = [];
  if (hash !== "sha1") fields.push(tagged(0, hashAlgorithmIdentifier(hash)));
  if (mgf1Hash !== "sha1") fields.push(tagged(1, mgf1AlgorithmIdentifier(mgf1Hash)));
  return new Uint8Array(new asn1js.Sequence({ value: fields }).toBER());
}

/** MGF1 AlgorithmIdentifier builder shared with PSS. */
export { mgf1AlgorithmIdentifier, tagged };

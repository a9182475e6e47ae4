import { diffieHellman, generateKeyPairSync } from "node:crypto";
import type { CertInfo, KeyEntry, PrivateKeyHandle } from "@sealpost/pki";
import { issuerAndSerialMatches, nameToString, subjectKeyIdMatches } from "@sealpost/pki";
import { type AlgId, algId, parseAlgId, unsupported } from "./algorithms.js";
import {
  type Node,
  TAG,
  decodeInteger,
  encodeInteger,
  encodeOid,
  malformed,
  octetString,
  seq,
  tlv,
} from "./ber/der.js";
import { allowsDecryption } from "./decryption-keys.js";
import { OID, oidName } from "./oids.js";
import {
  aesKeyUnwrap,
  aesKeyWrap,
  tripleDesKeyUnwrap,
  type Curve,
  curveOf,
  ecdhSharedSecret,
  ecPointOf,
  ecPublicKeyFromPoint,
  type HashName,
  x963Kdf,
} from "./primitives/index.js";
import type { RecipientInfoSummary } from "./types.js";

/**
 * ECDH recipients (RFC 5753 KeyAgreeRecipientInfo, ephemeral-static): one fresh originator key per recipient,
 * dhSinglePass-stdDH-shaNNNkdf-scheme (X9.63 KDF with ECC-CMS-SharedInfo) and AES key wrap of the content key.
 * sealpost writes the SHA-256 KDF for P-256 recipients, SHA-384 for P-384 and SHA-512 for P-521, always with
 * id-aes256-wrap; it reads the stdDH and cofactorDH schemes (the same on these cofactor-1 curves) with SHA-1 to
 * SHA-512 KDFs (SHA-1 is a KDF here, not a signature: OpenSSL 1.1.1 writes it), AES-128/192/256 key wrap and, for
 * files with 3DES content from older peers, the CMS Triple-DES key wrap (RFC 3217).
 */

const KDF_SCHEMES: Record<string, HashName> = {
  [OID.dhSinglePassStdDHSha1Kdf]: "sha1",
  [OID.dhSinglePassStdDHSha224Kdf]: "sha224",
  [OID.dhSinglePassStdDHSha256Kdf]: "sha256",
  [OID.dhSinglePassStdDHSha384Kdf]: "sha384",
  [OID.dhSinglePassStdDHSha512Kdf]: "sha512",
  [OID.dhSinglePassCofactorDHSha1Kdf]: "sha1",
  [OID.dhSinglePassCofactorDHSha224Kdf]: "sha224",
  [OID.dhSinglePassCofactorDHSha256Kdf]: "sha256",
  [OID.dhSinglePassCofactorDHSha384Kdf]: "sha384",
  [OID.dhSinglePassCofactorDHSha512Kdf]: "sha512",
};
const WRITE_SCHEME: Record<string, string> = {
  prime256v1: OID.dhSinglePassStdDHSha256Kdf,
  secp384r1: OID.dhSinglePassStdDHSha384Kdf,
  secp521r1: OID.dhSinglePassStdDHSha512Kdf,
};
const WRAP_KEK_BYTES: Record<string, number> = {
  [OID.aes128Wrap]: 16,
  [OID.aes192Wrap]: 24,
  [OID.aes256Wrap]: 32,
  [OID.cms3DESwrap]: 24,
};

/** What a KeyAgreeRecipientInfo's keyEncryptionAlgorithm asks for. */
export interface KeyAgreeAlg {
  kdfHash: HashName;
  /** DER of the key-wrap AlgorithmIdentifier as the file has it (it enters the KDF's SharedInfo verbatim). */
  wrapAlgDer: Buffer;
  kekBytes: number;
  /** "aes" (RFC 3394) or "3des" (RFC 3217, read only). */
  wrap: "aes" | "3des";
  name: string;
}

/** Name of a key agreement as results and inspect report it, e.g. "ecdh-sha256kdf-aes256-wrap". */
const agreeName = (kdfHash: string, kekBytes: number, wrap: "aes" | "3des" = "aes") =>
  `ecdh-${kdfHash}kdf-${wrap === "3des" ? "3des" : `aes${kekBytes * 8}`}-wrap`;

/** ECC-CMS-SharedInfo (RFC 5753 7.2): keyInfo, entityUInfo [0] (the ukm, if any), suppPubInfo [2] (KEK bits). */
function sharedInfo(wrapAlgDer: Uint8Array, kekBytes: number, ukm: Buffer | undefined): Buffer {
  const bits = Buffer.alloc(4);
  bits.writeUInt32BE(kekBytes * 8, 0);
  return seq(wrapAlgDer, ...(ukm ? [tlv(0xa0, octetString(ukm))] : []), tlv(0xa2, octetString(bits)));
}

/** Check an EC recipient certificate's curve (P-256, P-384, P-521); CmsError UNSUPPORTED_ALGORITHM otherwise. */
export function keyAgreeCurve(cert: CertInfo): Curve {
  return curveOf(cert.publicKey);
}

/** The name of the key agreement sealpost writes for `cert`. */
export function keyAgreeNameFor(cert: CertInfo): string {
  const curve = keyAgreeCurve(cert);
  return agreeName(KDF_SCHEMES[WRITE_SCHEME[curve.name]!]!, 32);
}

/**
 * A DER KeyAgreeRecipientInfo (version 3, tagged [1]) delivering `cek` to the EC key of `cert`: a fresh ephemeral
 * key on its curve (originatorKey, parameters absent), no ukm, recipient identified by issuer and serial number or
 * (rKeyId) by subjectKeyIdentifier.
 */
export function buildKeyAgreeRecipientInfo(
  cert: CertInfo,
  cek: Buffer,
  rid: "issuerAndSerialNumber" | "subjectKeyIdentifier",
): Buffer {
  const curve = keyAgreeCurve(cert);
  const scheme = WRITE_SCHEME[curve.name]!;
  const wrapAlgDer = algId(OID.aes256Wrap);
  const eph = generateKeyPairSync("ec", { namedCurve: curve.name });
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: cert.publicKey });
  const kek = x963Kdf(KDF_SCHEMES[scheme]!, z, sharedInfo(wrapAlgDer, 32, undefined), 32);
  z.fill(0);
  const wrapped = aesKeyWrap(kek, cek);
  kek.fill(0);
  const point = ecPointOf(eph.publicKey);
  const originatorKey = tlv(0xa1, algId(OID.ecPublicKey), tlv(TAG.BIT_STRING, Buffer.from([0]), point));
  const recipientId =
    rid === "subjectKeyIdentifier"
      ? tlv(0xa0, octetString(Buffer.from(cert.subjectKeyIdHex!, "hex")))
      : seq(Buffer.from(cert.issuerDer), encodeInteger(Buffer.from(cert.serialHex, "hex")));
  return tlv(
    0xa1,
    encodeInteger(3),
    tlv(0xa0, originatorKey),
    seq(encodeOid(scheme), wrapAlgDer),
    seq(seq(recipientId, octetString(wrapped))),
  );
}

/** One RecipientEncryptedKey of a KeyAgreeRecipientInfo. */
export interface RecipientEncryptedKey {
  issuerDer?: Buffer;
  serial?: Buffer;
  ski?: Buffer;
  encryptedKey: Buffer;
}

/** A parsed KeyAgreeRecipientInfo. Unsupported originator forms and algorithms are kept as errors. */
export interface Kari {
  version: number;
  /** The originator's ephemeral public point (BIT STRING contents without the unused-bits octet). */
  originatorPoint: Buffer | Error;
  ukm?: Buffer;
  alg: KeyAgreeAlg | Error;
  recipients: RecipientEncryptedKey[];
}

function parseKeyAgreeAlg(a: AlgId): KeyAgreeAlg {
  const kdfHash = KDF_SCHEMES[a.oid];
  if (!kdfHash) throw unsupported(`the key agreement algorithm ${oidName(a.oid)}`);
  if (!a.params) throw malformed("the key agreement algorithm names no key wrap algorithm");
  const wrap = parseAlgId(a.params, "the key wrap algorithm");
  const kekBytes = WRAP_KEK_BYTES[wrap.oid];
  if (!kekBytes) throw unsupported(`the key wrap algorithm ${oidName(wrap.oid)}`);
  if (wrap.params && wrap.params.tag !== TAG.NULL) throw malformed("the key wrap algorithm has parameters");
  const kind = wrap.oid === OID.cms3DESwrap ? "3des" : "aes";
  return { kdfHash, wrapAlgDer: wrap.raw, kekBytes, wrap: kind, name: agreeName(kdfHash, kekBytes, kind) };
}

function parseOriginator(node: Node): Buffer | Error {
  if (node.tag !== 0xa0 || node.children.length !== 1)
    throw malformed("the key agreement originator is not tagged [0]");
  const o = node.children[0]!;
  if (o.tag !== 0xa1) {
    return unsupported("a key agreement with a static originator key (only ephemeral originator keys are read)");
  }
  const [alg, key, ...rest] = o.children;
  if (!alg || !key || rest.length > 0 || key.tag !== TAG.BIT_STRING)
    throw malformed("the originator key is incomplete");
  const a = parseAlgId(alg, "the originator key algorithm");
  if (a.oid !== OID.ecPublicKey) return unsupported(`an originator key of type ${oidName(a.oid)}`);
  if (key.content.length < 2 || key.content[0] !== 0)
    throw malformed("the originator key is not a whole number of bytes");
  return key.content.subarray(1);
}

function parseRid(rid: Node): Omit<RecipientEncryptedKey, "encryptedKey"> {
  if (rid.tag === TAG.SEQUENCE) {
    const [issuer, serial, ...rest] = rid.children;
    if (!issuer || !serial || rest.length > 0 || serial.tag !== TAG.INTEGER) {
      throw malformed("an IssuerAndSerialNumber is incomplete");
    }
    return { issuerDer: issuer.raw, serial: serial.content };
  }
  if (rid.tag === 0xa0) {
    const ski = rid.children[0];
    if (!ski || ski.tag !== TAG.OCTET_STRING) throw malformed("a RecipientKeyIdentifier has no key identifier");
    return { ski: ski.content };
  }
  throw malformed("a key agreement recipient identifier has an unknown form");
}

/**
 * Parses a KeyAgreeRecipientInfo ([1] IMPLICIT SEQUENCE) into a Kari and one summary per recipient key.
 * MALFORMED for a version other than 3 (RFC 5652 6.2.2), missing or misplaced fields, trailing fields, or no
 * recipient keys; an unsupported algorithm or originator form is kept as an error, thrown only when that
 * recipient is the caller's.
 */
export function parseKeyAgreeRecipientInfo(ri: Node): { kari: Kari; summaries: RecipientInfoSummary[] } {
  const c = ri.children;
  let i = 0;
  const v = c[i++];
  if (!v || v.tag !== TAG.INTEGER) throw malformed("a KeyAgreeRecipientInfo has no version");
  const version = Number(decodeInteger(v.content));
  if (version !== 3) throw malformed(`a KeyAgreeRecipientInfo has version ${version} (must be 3)`);
  const orig = c[i++];
  if (!orig) throw malformed("a KeyAgreeRecipientInfo has no originator");
  const originatorPoint = parseOriginator(orig);
  let ukm: Buffer | undefined;
  if (c[i]?.tag === 0xa1) {
    const u = c[i++]!.children[0];
    if (!u || u.tag !== TAG.OCTET_STRING) throw malformed("the user keying material is not an OCTET STRING");
    ukm = u.content;
  }
  const algNode = c[i++];
  const reks = c[i++];
  if (!algNode || !reks || reks.tag !== TAG.SEQUENCE || c[i]) {
    throw malformed("a KeyAgreeRecipientInfo is incomplete or has unexpected fields");
  }
  let alg: KeyAgreeAlg | Error;
  try {
    alg = parseKeyAgreeAlg(parseAlgId(algNode, "the key agreement algorithm"));
  } catch (e) {
    alg = e as Error;
  }
  if (reks.children.length === 0) throw malformed("a KeyAgreeRecipientInfo names no recipient");
  const recipients: RecipientEncryptedKey[] = [];
  const summaries: RecipientInfoSummary[] = [];
  for (const rek of reks.children) {
    const [rid, ek, ...rest] = rek.children;
    if (rek.tag !== TAG.SEQUENCE || !rid || !ek || ek.tag !== TAG.OCTET_STRING || rest.length > 0) {
      throw malformed("a RecipientEncryptedKey is incomplete");
    }
    const r: RecipientEncryptedKey = { ...parseRid(rid), encryptedKey: ek.content };
    recipients.push(r);
    const s: RecipientInfoSummary = { type: "kari", version };
    if (!(alg instanceof Error)) s.keyTransport = alg.name;
    if (r.issuerDer && r.serial) {
      s.issuerDer = r.issuerDer;
      try {
        s.issuer = nameToString(r.issuerDer);
      } catch {
        s.issuer = `#${r.issuerDer.toString("hex")}`;
      }
      s.serialHex = r.serial.toString("hex");
    } else if (r.ski) s.subjectKeyIdHex = r.ski.toString("hex");
    summaries.push(s);
  }
  const kari: Kari = { version, originatorPoint, alg, recipients };
  if (ukm) kari.ukm = ukm;
  return { kari, summaries };
}

/**
 * The first (key, kari, recipient key) where the key's certificate is the one a RecipientEncryptedKey names, among
 * the keys whose certificate allows decryption (allowsDecryption); `refused` lists the keys that were
 * named but are not for decryption (never used).
 */
export function matchKeyAgreeRecipient(
  karis: Kari[],
  keys: KeyEntry[],
):
  | { key: KeyEntry; kari: Kari; rek: RecipientEncryptedKey; refused: KeyEntry[] }
  | { key: undefined; refused: KeyEntry[] } {
  const refused: KeyEntry[] = [];
  for (const key of keys) {
    for (const kari of karis) {
      const rek = kari.recipients.find(
        (x) =>
          (x.ski && subjectKeyIdMatches(key.cert, x.ski)) ||
          (!x.ski && x.issuerDer && x.serial && issuerAndSerialMatches(key.cert, x.issuerDer, x.serial)),
      );
      if (!rek) continue;
      if (allowsDecryption(key.cert)) return { key, kari, rek, refused };
      refused.push(key);
      break;
    }
  }
  return { key: undefined, refused };
}

/**
 * Recovers the content key of a matched recipient with the caller's EC key handle (one ECDH operation, in this
 * process or on a token): returns the key, or undefined when the AES key wrap's integrity check fails or the key
 * has the wrong length (the caller reports TAMPERED). MALFORMED when the originator point is not on the key's
 * curve (invalid-curve points are refused before any ECDH); UNSUPPORTED_ALGORITHM for unsupported algorithms.
 */
export async function unwrapKeyAgree(
  handle: PrivateKeyHandle,
  kari: Kari,
  rek: RecipientEncryptedKey,
  keyLength: number,
): Promise<Buffer | undefined> {
  if (kari.alg instanceof Error) throw kari.alg;
  if (kari.originatorPoint instanceof Error) throw kari.originatorPoint;
  if (handle.algorithm !== "ec") throw unsupported(`an ${handle.algorithm} private key for an ECDH recipient`);
  const curve = curveOf(handle.publicKey);
  const peer = ecPublicKeyFromPoint(curve, kari.originatorPoint);
  const z = await ecdhSharedSecret(handle, peer);
  const alg = kari.alg;
  const kek = x963Kdf(alg.kdfHash, z, sharedInfo(alg.wrapAlgDer, alg.kekBytes, kari.ukm), alg.kekBytes);
  z.fill(0);
  const cek = alg.wrap === "3des" ? tripleDesKeyUnwrap(kek, rek.encryptedKey) : aesKeyUnwrap(kek, rek.encryptedKey);
  kek.fill(0);
  if (!cek || cek.length !== keyLength) {
    cek?.fill(0);
    return undefined;
  }
  return cek;
}

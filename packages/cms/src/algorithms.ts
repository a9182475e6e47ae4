import { CmsError } from "./errors.js";
import {
  type Node,
  NULL_DER,
  TAG,
  decodeInteger,
  decodeOid,
  encodeInteger,
  encodeOid,
  malformed,
  octetString,
  seq,
  tlv,
} from "./ber/der.js";
import { OID, oidName } from "./oids.js";
import { type OaepParams, parseRsaesOaepParams } from "./primitives/index.js";

/** Digests sealpost signs with. */
export type DigestName = "sha256" | "sha384" | "sha512";
export type CipherName = "aes-256-gcm" | "aes-256-cbc";
export type KeyTransportName = "oaep" | "pkcs1";
export type SignatureScheme = "pkcs1" | "pss";

const DIGEST_OIDS: Record<string, string> = {
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
  [OID.sha224]: "sha224",
  [OID.sha1]: "sha1",
  [OID.md5]: "md5",
};
export const DIGEST_LENGTH: Record<string, number> = {
  sha1: 20,
  md5: 16,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** A parsed AlgorithmIdentifier. */
export interface AlgId {
  oid: string;
  params: Node | undefined;
  raw: Buffer;
}

export function parseAlgId(node: Node, what: string): AlgId {
  if (node.tag !== TAG.SEQUENCE || node.children.length < 1 || node.children[0]!.tag !== TAG.OID) {
    throw malformed(`${what} is not an AlgorithmIdentifier`);
  }
  const params = node.children[1];
  return { oid: decodeOid(node.children[0]!.content), params, raw: node.raw };
}

export function algId(oid: string, params?: Uint8Array): Buffer {
  return params ? seq(encodeOid(oid), params) : seq(encodeOid(oid));
}

/** Digest AlgorithmIdentifier as RFC 5754 wants it (parameters absent). */
export function digestAlgId(d: DigestName): Buffer {
  return algId(OID[d]);
}

/** Digest name from an AlgorithmIdentifier; sha1/md5 are returned (callers refuse them), others UNSUPPORTED. */
export function digestFromAlgId(a: AlgId): string {
  const name = DIGEST_OIDS[a.oid];
  if (!name) throw unsupported(`the digest algorithm ${oidName(a.oid)}`);
  return name;
}

export function unsupported(what: string): CmsError {
  return new CmsError("UNSUPPORTED_ALGORITHM", `The file uses ${what}, which sealpost does not support.`, {
    hint: "Ask the sender to seal the file again with sealpost defaults (AES-256-GCM, RSA-OAEP, SHA-256).",
  });
}

export function weak(what: string): CmsError {
  return new CmsError("WEAK_ALGORITHM", `The file uses ${what}, which is no longer considered safe.`, {
    hint: "Ask the sender to sign again with SHA-256 or better and an RSA key of at least 2048 bits.",
  });
}

/** Refuse SHA-1/MD5 as signature digests. */
export function requireStrongDigest(name: string, role: string): void {
  if (name === "sha1" || name === "md5") throw weak(`${name.toUpperCase()} for the ${role}`);
}

// ---- key transport -------------------------------------------------------------------------------------------

/** RSAES-OAEP-params with SHA-256 and MGF1-SHA-256, written explicitly (RFC 4055 / RFC 8017 A.2.1). */
export function oaepAlgId(hash: DigestName = "sha256"): Buffer {
  const h = algId(OID[hash], NULL_DER);
  return algId(OID.rsaesOaep, seq(tlv(0xa0, h), tlv(0xa1, algId(OID.mgf1, h))));
}

export const RSA_PKCS1_ALGID = algId(OID.rsaEncryption, NULL_DER);

/** What a KeyTransRecipientInfo's keyEncryptionAlgorithm asks for. */
export interface KeyTransportAlg {
  kind: "oaep" | "pkcs1";
  /** Parsed RSAES-OAEP-params (hash, MGF1 hash, label), for kind "oaep". */
  oaep?: OaepParams;
  name: string;
}

function hashOfAlg(node: Node | undefined, what: string): string {
  if (!node) throw malformed(`${what} is missing`);
  const a = parseAlgId(node, what);
  return digestFromAlgId(a);
}

/** Parse the key transport algorithm (RSAES-OAEP-params by the primitives layer: defaults SHA-1, MGF1-SHA-1). */
export function parseKeyTransportAlg(a: AlgId): KeyTransportAlg {
  if (a.oid === OID.rsaEncryption) return { kind: "pkcs1", name: "rsaes-pkcs1-v1_5" };
  if (a.oid !== OID.rsaesOaep) throw unsupported(`the key transport algorithm ${oidName(a.oid)}`);
  const oaep = parseRsaesOaepParams(a.params && a.params.tag !== TAG.NULL ? a.params.raw : undefined);
  const name =
    oaep.mgf1Hash === oaep.hash ? `rsaes-oaep-${oaep.hash}` : `rsaes-oaep-${oaep.hash}-mgf1-${oaep.mgf1Hash}`;
  return { kind: "oaep", oaep, name };
}

// ---- signatures ---------------------------------------------------------------------------------------------

const RSA_SIG: Record<DigestName, string> = {
  sha256: OID.sha256WithRSA,
  sha384: OID.sha384WithRSA,
  sha512: OID.sha512WithRSA,
};

/** RSASSA-PSS-params: hash, MGF1 with the same hash, salt length = hash length, trailer 1. */
export function pssAlgId(hash: DigestName): Buffer {
  const h = algId(OID[hash], NULL_DER);
  return algId(
    OID.rsassaPss,
    seq(tlv(0xa0, h), tlv(0xa1, algId(OID.mgf1, h)), tlv(0xa2, encodeInteger(DIGEST_LENGTH[hash]!))),
  );
}

const ECDSA_SIG: Record<DigestName, string> = {
  sha256: OID.ecdsaWithSha256,
  sha384: OID.ecdsaWithSha384,
  sha512: OID.ecdsaWithSha512,
};

/**
 * The SignerInfo signatureAlgorithm for a key algorithm, scheme and hash: RSA PKCS#1 v1.5 (NULL parameters),
 * RSASSA-PSS (see pssAlgId) or ECDSA (ecdsa-with-SHAxxx, parameters absent as RFC 5758 requires).
 */
export function signatureAlgId(scheme: SignatureScheme | "ecdsa", hash: DigestName): Buffer {
  if (scheme === "ecdsa") return algId(ECDSA_SIG[hash]);
  return scheme === "pss" ? pssAlgId(hash) : algId(RSA_SIG[hash], NULL_DER);
}

export function signatureAlgName(scheme: SignatureScheme | "ecdsa", hash: DigestName): string {
  if (scheme === "ecdsa") return `ecdsa-with-${hash}`;
  return scheme === "pss" ? `rsassa-pss-${hash}` : `${hash}WithRSAEncryption`;
}

/** How to check a SignerInfo signature. */
export interface SignatureAlg {
  kind: "rsa-pkcs1" | "rsa-pss" | "ecdsa";
  hash: string;
  saltLength?: number;
  name: string;
}

const RSA_SIG_OIDS: Record<string, string> = {
  [OID.sha1WithRSA]: "sha1",
  [OID.md5WithRSA]: "md5",
  [OID.sha224WithRSA]: "sha224",
  [OID.sha256WithRSA]: "sha256",
  [OID.sha384WithRSA]: "sha384",
  [OID.sha512WithRSA]: "sha512",
};
const ECDSA_OIDS: Record<string, string> = {
  [OID.ecdsaWithSha1]: "sha1",
  [OID.ecdsaWithSha256]: "sha256",
  [OID.ecdsaWithSha384]: "sha384",
  [OID.ecdsaWithSha512]: "sha512",
};

/**
 * The signature algorithm of a SignerInfo, given its digestAlgorithm. The hash actually used for the signature
 * must equal the digest algorithm (mixing is refused as UNSUPPORTED_ALGORITHM).
 */
export function parseSignatureAlg(sig: AlgId, digest: string): SignatureAlg {
  let out: SignatureAlg;
  if (sig.oid === OID.rsaEncryption) out = { kind: "rsa-pkcs1", hash: digest, name: `${digest}WithRSAEncryption` };
  else if (RSA_SIG_OIDS[sig.oid]) {
    const h = RSA_SIG_OIDS[sig.oid]!;
    out = { kind: "rsa-pkcs1", hash: h, name: `${h}WithRSAEncryption` };
  } else if (ECDSA_OIDS[sig.oid]) {
    const h = ECDSA_OIDS[sig.oid]!;
    out = { kind: "ecdsa", hash: h, name: `ecdsa-with-${h}` };
  } else if (sig.oid === OID.rsassaPss) {
    let hash = "sha1";
    let mgfHash = "sha1";
    let salt = 20;
    const p = sig.params;
    if (!p || p.tag !== TAG.SEQUENCE) throw malformed("RSASSA-PSS parameters are missing");
    for (const f of p.children) {
      const inner = f.children[0];
      if (f.tag === 0xa0) hash = hashOfAlg(inner, "the PSS hash");
      else if (f.tag === 0xa1) {
        if (!inner) throw malformed("the PSS mask generation function is missing");
        const mgf = parseAlgId(inner, "the PSS mask generation function");
        if (mgf.oid !== OID.mgf1) throw unsupported(`the PSS mask generation function ${oidName(mgf.oid)}`);
        mgfHash = hashOfAlg(mgf.params, "the MGF1 hash");
      } else if (f.tag === 0xa2) {
        if (!inner || inner.tag !== TAG.INTEGER) throw malformed("the PSS salt length is not an INTEGER");
        salt = Number(decodeInteger(inner.content));
      } else if (f.tag === 0xa3) {
        if (!inner || inner.tag !== TAG.INTEGER || decodeInteger(inner.content) !== 1n) {
          throw unsupported("an RSASSA-PSS trailer field other than 1");
        }
      } else throw malformed("unknown field in RSASSA-PSS parameters");
    }
    if (hash !== mgfHash) throw unsupported(`RSASSA-PSS with ${hash} and MGF1-${mgfHash} (different hashes)`);
    out = { kind: "rsa-pss", hash, saltLength: salt, name: `rsassa-pss-${hash}` };
  } else {
    throw unsupported(`the signature algorithm ${oidName(sig.oid)}`);
  }
  requireStrongDigest(out.hash, "signature");
  requireStrongDigest(digest, "signature digest");
  if (out.hash !== digest) throw unsupported(`a signature hash (${out.hash}) different from the digest (${digest})`);
  return out;
}

// ---- content encryption -------------------------------------------------------------------------------------

/** Node cipher for a ContentEncryptionAlgorithmIdentifier. */
export interface ContentCipher {
  /** node:crypto name, e.g. "aes-256-gcm". */
  node: string;
  keyLength: number;
  iv: Buffer;
  aead: boolean;
  /** GCM tag length in bytes. */
  tagLength: number;
  /** Set for legacy ciphers sealpost opens but never writes. */
  warning?: string;
}

export function gcmAlgId(iv: Buffer): Buffer {
  return algId(OID.aes256Gcm, seq(octetString(iv), encodeInteger(16)));
}

export function cbcAlgId(iv: Buffer): Buffer {
  return algId(OID.aes256Cbc, octetString(iv));
}

const CBC: Record<string, [string, number, number]> = {
  [OID.aes128Cbc]: ["aes-128-cbc", 16, 16],
  [OID.aes192Cbc]: ["aes-192-cbc", 24, 16],
  [OID.aes256Cbc]: ["aes-256-cbc", 32, 16],
  [OID.desEde3Cbc]: ["des-ede3-cbc", 24, 8],
};
const GCM: Record<string, [string, number]> = {
  [OID.aes128Gcm]: ["aes-128-gcm", 16],
  [OID.aes192Gcm]: ["aes-192-gcm", 24],
  [OID.aes256Gcm]: ["aes-256-gcm", 32],
};

/** The only GCM tag length accepted (RFC 5084 allows 12 to 16; shorter tags are easier to forge). */
export const GCM_TAG_BYTES = 16;
/** Longest GCM nonce accepted (12 is what everyone writes). */
const GCM_MAX_NONCE_BYTES = 16;

export function parseContentCipher(a: AlgId, aeadExpected: boolean): ContentCipher {
  const cbc = CBC[a.oid];
  const gcm = GCM[a.oid];
  if (cbc) {
    if (aeadExpected) throw malformed("AuthEnvelopedData with a non-authenticating cipher");
    const [node, keyLength, ivLen] = cbc;
    if (!a.params || a.params.tag !== TAG.OCTET_STRING || a.params.content.length !== ivLen) {
      throw malformed(`the ${node} IV is missing or has the wrong length`);
    }
    return {
      node,
      keyLength,
      iv: a.params.content,
      aead: false,
      tagLength: 0,
      warning:
        a.oid === OID.desEde3Cbc
          ? "The file was encrypted with the outdated 3DES cipher; ask the sender to use AES from now on."
          : undefined,
    };
  }
  if (gcm) {
    if (!aeadExpected) throw unsupported("AES-GCM inside EnvelopedData (unauthenticated container)");
    const [node, keyLength] = gcm;
    const p = a.params;
    if (!p || p.tag !== TAG.SEQUENCE || !p.children[0] || p.children[0].tag !== TAG.OCTET_STRING) {
      throw malformed("the GCM parameters are missing");
    }
    if (p.children.length > 2) throw malformed("the GCM parameters have unexpected fields");
    const iv = p.children[0].content;
    // RFC 5084: aes-ICVlen INTEGER (12 | 13 | 14 | 15 | 16) DEFAULT 12. sealpost accepts full 16-byte tags only.
    let tagLength = 12;
    if (p.children[1]) {
      if (p.children[1].tag !== TAG.INTEGER) throw malformed("the GCM tag length is not an INTEGER");
      const v = decodeInteger(p.children[1].content);
      if (v < 12n || v > 16n) throw malformed(`the GCM tag length ${v} is not one RFC 5084 allows (12 to 16)`);
      tagLength = Number(v);
    }
    if (tagLength !== GCM_TAG_BYTES) {
      throw unsupported(`AES-GCM with a ${tagLength}-byte tag (sealpost requires the full ${GCM_TAG_BYTES} bytes)`);
    }
    // RFC 5084 leaves the nonce length open (12 octets recommended); GCM needs at least one octet, and OpenSSL
    // takes at most 16.
    if (iv.length === 0) throw malformed("the GCM nonce is empty");
    if (iv.length > GCM_MAX_NONCE_BYTES) throw unsupported(`AES-GCM with a ${iv.length}-byte nonce`);
    return { node, keyLength, iv, aead: true, tagLength };
  }
  throw unsupported(`the content encryption algorithm ${oidName(a.oid)}`);
}

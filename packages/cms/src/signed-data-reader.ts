import { constants, publicDecrypt } from "node:crypto";
import { hashGroup } from "./hash-thread.js";
import type { CertInfo, TrustPolicy, TrustResult } from "@sealpost/pki";
import { PkiError, issuerAndSerialMatches, parseCertificate, subjectKeyIdMatches } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import {
  type AlgId,
  type SignatureAlg,
  digestAlgId,
  digestFromAlgId,
  parseAlgId,
  parseSignatureAlg,
  requireStrongDigest,
  weak,
} from "./algorithms.js";
import { type AttributeMap, badAttrs, checkSigningCertificate, parseAttributes, singleValue } from "./attributes.js";
import { type Node, TAG, decode, decodeInteger, decodeOid, decodeTime, malformed, retag, seq } from "./ber/der.js";
import type { BerReader, Header } from "./ber/reader.js";
import { CmsError } from "./errors.js";
import { MANIFEST_ATTRIBUTE_OID, decodeManifest } from "./manifest.js";
import { LIMITS } from "./limits.js";
import { OID } from "./oids.js";
import { ecdsaVerify, type HashName, rsaVerify } from "./primitives/index.js";

/**
 * Streaming parser of a SignedData (RFC 5652 section 5) and the checks of its SignerInfo.
 *
 * Call order: `readSignedData(reader, header, sink)` with the header of the SignedData SEQUENCE already read: it
 * streams the encapsulated content through the digests into `sink` (awaited per chunk: backpressure), then buffers
 * only the tail (certificates, CRLs, signerInfos; at most `tailLimit` bytes, else MALFORMED) and stops after the
 * SignedData's end-of-contents. Then call `verifySigner(parsed, ...)`, which checks everything and never reads input.
 */

export interface ParsedSignedData {
  version: number;
  digestAlgorithms: AlgId[];
  eContentType: string;
  /** True when eContent is absent (detached signature). */
  detached: boolean;
  contentBytes: number;
  /** Digest of the content per algorithm name (only the supported ones listed in digestAlgorithms, plus sha256). */
  digests: Map<string, Buffer>;
  certificates: Buffer[];
  signerInfos: Node[];
}

export interface ReadSignedDataOptions {
  /** Default 16 MiB. */
  tailLimit?: number;
  onProgress?: (bytes: number) => void;
  /** Hash the content (default true; inspect passes false). */
  hash?: boolean;
}

const HASHABLE = new Set(["sha1", "sha224", "sha256", "sha384", "sha512", "md5"]);

export async function readSignedData(
  r: BerReader,
  sd: Header,
  sink: ((chunk: Buffer) => Promise<void>) | undefined,
  options: ReadSignedDataOptions = {},
): Promise<ParsedSignedData> {
  if (sd.tag !== TAG.SEQUENCE) throw malformed("the SignedData is not a SEQUENCE");
  const v = await r.readDecoded("the SignedData version", LIMITS.field);
  if (v.tag !== TAG.INTEGER) throw malformed("the SignedData version is not an INTEGER");
  const algs = await r.readDecoded("the digest algorithms", LIMITS.field);
  if (algs.tag !== TAG.SET) throw malformed("the digest algorithms are not a SET");
  if (algs.children.length > LIMITS.digestAlgorithms) {
    throw malformed(`the SignedData lists more than ${LIMITS.digestAlgorithms} digest algorithms`);
  }
  const digestAlgorithms = algs.children.map((a) => parseAlgId(a, "a digest algorithm"));
  const names = new Set<string>();
  if (options.hash !== false) {
    names.add("sha256");
    for (const a of digestAlgorithms) {
      let name: string;
      try {
        name = digestFromAlgId(a);
      } catch {
        continue; // unsupported digests fail later, if a signer uses them
      }
      if (HASHABLE.has(name)) names.add(name);
    }
  }
  const hashes = names.size > 0 ? hashGroup([...names]) : undefined;
  const eci = await r.expect(TAG.SEQUENCE, "the encapsulated content information");
  const ct = await r.readDecoded("the content type", LIMITS.field);
  if (ct.tag !== TAG.OID) throw malformed("the encapsulated content type is not an OID");
  let detached = true;
  let contentBytes = 0;
  if (!(await r.atEnd(eci))) {
    const explicit = await r.expect(0xa0, "the encapsulated content");
    detached = false;
    const os = await r.readHeader("the encapsulated content");
    if ((os.tag & 0xdf) !== TAG.OCTET_STRING) throw malformed("the encapsulated content is not an OCTET STRING");
    for await (const chunk of r.stringChunks(os, "the signed content")) {
      hashes?.update(chunk);
      contentBytes += chunk.length;
      if (sink) await sink(chunk);
      options.onProgress?.(contentBytes);
    }
    await r.expectEnd(explicit, "the encapsulated content");
    await r.expectEnd(eci, "the encapsulated content information");
  }
  const tailLimit = options.tailLimit ?? LIMITS.signedDataTailBytes;
  const tailStart = r.position;
  const tooBig = () => {
    if (r.position - tailStart > tailLimit) {
      throw malformed(`the certificates and signatures exceed ${tailLimit} bytes`);
    }
  };
  const certificates: Buffer[] = [];
  let tag = await r.peekTag();
  if (tag === 0xa0) {
    const set = await r.readHeader("the certificates");
    while (!(await r.atEnd(set))) {
      tooBig();
      if (certificates.length === LIMITS.certificates) {
        throw malformed(`the SignedData carries more than ${LIMITS.certificates} certificates`);
      }
      // Only plain certificates (SEQUENCE) are kept; other CertificateChoices are skipped.
      const isCert = (await r.peekTag()) === TAG.SEQUENCE;
      const c = await r.readElement("a certificate", LIMITS.certificate.maxBytes);
      if (isCert) certificates.push(c);
    }
    tooBig();
    tag = await r.peekTag();
  }
  if (tag === 0xa1) {
    const set = await r.readHeader("the CRLs");
    let n = 0;
    while (!(await r.atEnd(set))) {
      tooBig();
      if (++n > LIMITS.crls) throw malformed(`the SignedData carries more than ${LIMITS.crls} CRLs`);
      const h = await r.readHeader("a CRL");
      if (h.length > LIMITS.crlBytes) throw malformed(`a CRL in the file is larger than ${LIMITS.crlBytes} bytes`);
      await r.skipContent(h, "a CRL");
    }
    tooBig();
  }
  const siSet = await r.expect(TAG.SET, "the signer information");
  const signerInfos: Node[] = [];
  while (!(await r.atEnd(siSet))) {
    tooBig();
    if (signerInfos.length === LIMITS.signerInfos) {
      throw malformed(`the SignedData has more than ${LIMITS.signerInfos} signers`);
    }
    signerInfos.push(await r.readDecoded("the signer information", LIMITS.signerInfo));
  }
  tooBig();
  await r.expectEnd(sd, "the SignedData");
  const digests = new Map<string, Buffer>();
  if (hashes) {
    const values = await hashes.digests();
    for (const [i, k] of [...names].entries()) digests.set(k, values[i]!);
  }
  return {
    version: Number(decodeInteger(v.content)),
    digestAlgorithms,
    eContentType: decodeOid(ct.content),
    detached,
    contentBytes,
    digests,
    certificates,
    signerInfos,
  };
}

/** A parsed SignerInfo (structure only, nothing checked). */
export interface SignerInfoFields {
  version: number;
  issuerDer?: Buffer;
  serial?: Buffer;
  ski?: Buffer;
  digestAlg: AlgId;
  signedAttrs?: Node;
  signatureAlg: AlgId;
  signature: Buffer;
  unsignedAttrs?: Node;
}

export function parseSignerInfo(si: Node): SignerInfoFields {
  if (si.tag !== TAG.SEQUENCE) throw malformed("a SignerInfo is not a SEQUENCE");
  const c = si.children;
  let i = 0;
  const v = c[i++];
  const sid = c[i++];
  const dAlg = c[i++];
  if (!v || v.tag !== TAG.INTEGER || !sid || !dAlg) throw malformed("a SignerInfo is incomplete");
  const out: Partial<SignerInfoFields> = { version: Number(decodeInteger(v.content)) };
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = sid.children;
    if (!issuer || !serial || serial.tag !== TAG.INTEGER) throw malformed("a signer identifier is incomplete");
    out.issuerDer = issuer.raw;
    out.serial = serial.content;
  } else if (sid.tag === 0x80) out.ski = sid.content;
  else throw malformed("a signer identifier has an unknown form");
  out.digestAlg = parseAlgId(dAlg, "the signer's digest algorithm");
  if (c[i]?.tag === 0xa0) out.signedAttrs = c[i++];
  const sAlg = c[i++];
  const sig = c[i++];
  if (!sAlg || !sig || sig.tag !== TAG.OCTET_STRING) throw malformed("a SignerInfo has no signature");
  out.signatureAlg = parseAlgId(sAlg, "the signature algorithm");
  out.signature = sig.content;
  if (c[i]?.tag === 0xa1) out.unsignedAttrs = c[i++];
  if (c[i]) throw malformed("unexpected fields in a SignerInfo");
  return out as SignerInfoFields;
}

/** Certificates of the file as CertInfo (unparseable ones are reported in `warnings` and skipped). */
export function fileCertificates(ders: Buffer[], warnings: string[]): CertInfo[] {
  const out: CertInfo[] = [];
  for (const d of ders) {
    try {
      out.push(parseCertificate(d));
    } catch (e) {
      warnings.push(`A certificate in the file could not be read and was ignored (${(e as Error).message}).`);
    }
  }
  return out;
}

export function findSignerCert(f: SignerInfoFields, pool: CertInfo[]): CertInfo | undefined {
  return pool.find((c) => (f.ski ? subjectKeyIdMatches(c, f.ski) : issuerAndSerialMatches(c, f.issuerDer!, f.serial!)));
}

export interface VerifySignerOptions {
  trust: TrustPolicy;
  intermediates?: CertInfo[];
  /** Digests of detached content, when the SignedData has none (verifyFile). */
  detachedDigests?: Map<string, Buffer>;
}

export interface SignerVerification {
  signer: CertInfo;
  signingTime?: Date;
  manifest?: TransferManifest;
  signatureAlgorithm: string;
  digest: string;
  checks: string[];
  warnings: string[];
  trust: TrustResult;
}

/** A SignerInfo whose signature and signed attributes checked out (trust not yet looked at). */
export interface CheckedSigner extends Omit<SignerVerification, "trust"> {
  /** Certificates of the file (for path building). */
  fileCerts: CertInfo[];
}

/**
 * Check every SignerInfo of a parsed SignedData without the trust policy, in this order: digest and signature
 * algorithms (SHA-1/MD5 => WEAK_ALGORITHM, unknown => UNSUPPORTED_ALGORITHM), signer certificate present
 * (UNTRUSTED_SIGNER otherwise), RSA key >= 2048 bits (WEAK_ALGORITHM), the signature over the DER signed attributes
 * (BAD_SIGNATURE), the attributes: contentType present, single and equal to eContentType; messageDigest single and
 * equal to the content digest (mismatch => TAMPERED: the content is not what the signer signed); signingTime single
 * and only signed; CMSAlgorithmProtection matching the SignerInfo's algorithms; signingCertificateV2 /
 * signingCertificate naming the signer cert (all BAD_SIGNATURE with details.reason). A SignedData without signers
 * gives UNSIGNED_CONTENT. Synchronous and independent of any clock: once it returns, the content and the signed
 * attributes are what the signer's key signed. Returns the first signer's result (every signer present must pass).
 */
export function checkSignatures(
  sd: ParsedSignedData,
  options: Pick<VerifySignerOptions, "intermediates" | "detachedDigests">,
): CheckedSigner[] {
  if (sd.signerInfos.length === 0) {
    throw new CmsError("UNSIGNED_CONTENT", "The file carries no signature (a SignedData without signers).", {
      hint: "Ask the sender to sign the file.",
    });
  }
  const warnings: string[] = [];
  const fileCerts = fileCertificates(sd.certificates, warnings);
  const out = sd.signerInfos.map((si) => checkOne(sd, parseSignerInfo(si), fileCerts, options));
  out[0]!.warnings.unshift(...warnings);
  return out;
}

/**
 * The trust policy for every signer that checkSignatures passed, at the time the policy's clock says now (the
 * signingTime is the signer's claim, shown but never trusted): failures => UNTRUSTED_SIGNER with the PkiError as
 * cause and its code in details.pkiCode. Returns the first signer's verification.
 */
export async function checkSignerTrust(
  checked: CheckedSigner[],
  options: Pick<VerifySignerOptions, "trust" | "intermediates">,
): Promise<SignerVerification> {
  let first: SignerVerification | undefined;
  for (const c of checked) {
    const { fileCerts, ...rest } = c;
    const trust = await validateSigner(c.signer, fileCerts, options);
    first ??= { ...rest, checks: [...rest.checks, "trust"], trust };
  }
  return first!;
}

/** checkSignatures, then checkSignerTrust. */
export async function verifySigners(sd: ParsedSignedData, options: VerifySignerOptions): Promise<SignerVerification> {
  return checkSignerTrust(checkSignatures(sd, options), options);
}

function checkOne(
  sd: ParsedSignedData,
  f: SignerInfoFields,
  fileCerts: CertInfo[],
  options: Pick<VerifySignerOptions, "intermediates" | "detachedDigests">,
): CheckedSigner {
  const checks: string[] = [];
  const warnings: string[] = [];
  // Unknown algorithms first (UNSUPPORTED_ALGORITHM), then weak ones (WEAK_ALGORITHM, inside parseSignatureAlg).
  const digest = digestFromAlgId(f.digestAlg);
  const sigAlg = parseSignatureAlg(f.signatureAlg, digest);
  requireStrongDigest(digest, "signature digest");
  checks.push("algorithms");
  const signer = findSignerCert(f, [...fileCerts, ...(options.intermediates ?? [])]);
  if (!signer) {
    throw new CmsError(
      "UNTRUSTED_SIGNER",
      "The signer's certificate is neither in the file nor among the certificates given.",
      {
        hint: "Ask the sender to include their certificate, or provide it with the intermediates.",
        details: { reason: "signer-certificate-missing" },
      },
    );
  }
  checks.push("signer-certificate");
  if (signer.keyType === "rsa" && (signer.keyBits ?? 0) < 2048) {
    throw weak(`an RSA key of ${signer.keyBits} bits for the signature (at least 2048 are required)`);
  }
  if ((signer.keyType === "ec") !== (sigAlg.kind === "ecdsa"))
    throw badSig("the signer's key does not fit the signature algorithm", "key-mismatch");
  checks.push("key-size");
  const contentDigest = sd.detached ? options.detachedDigests?.get(digest) : sd.digests.get(digest);
  if (!contentDigest) {
    if (sd.detached) {
      throw new CmsError("MALFORMED", "The signature is detached: the signed content must be given separately.", {
        hint: "Pass the content file along with the signature.",
        details: { reason: "detached-without-content" },
      });
    }
    throw new CmsError("UNSUPPORTED_ALGORITHM", `The digest ${digest} cannot be computed.`);
  }
  let signingTime: Date | undefined;
  let manifest: TransferManifest | undefined;
  if (f.unsignedAttrs) {
    const u = parseAttributes(f.unsignedAttrs);
    for (const [oid, name] of [
      [OID.signingTime, "signing-time"],
      [OID.contentType, "content-type"],
      [OID.messageDigest, "message-digest"],
    ] as const) {
      if (u.has(oid))
        throw badAttrs(`the ${name} attribute must be signed but is in the unsigned attributes`, `${name}-unsigned`);
    }
  }
  if (f.signedAttrs) {
    const attrs = parseAttributes(f.signedAttrs);
    const der = retag(f.signedAttrs, TAG.SET);
    if (!verifySignature(sigAlg, signer, der, f.signature))
      throw badSig("the signature does not match the signed attributes", "signature");
    checks.push("signature");
    const ct = singleValue(attrs, OID.contentType, "content-type");
    if (!ct) throw badAttrs("the content-type attribute is missing", "content-type-missing");
    if (ct.tag !== TAG.OID || decodeOid(ct.content) !== sd.eContentType) {
      throw badAttrs("the content-type attribute does not match the content", "content-type-mismatch");
    }
    checks.push("content-type");
    const md = singleValue(attrs, OID.messageDigest, "message-digest");
    if (!md) throw badAttrs("the message-digest attribute is missing", "message-digest-missing");
    if (md.tag !== TAG.OCTET_STRING)
      throw badAttrs("the message-digest attribute is not an OCTET STRING", "message-digest-format");
    if (!md.content.equals(contentDigest)) {
      throw new CmsError(
        "TAMPERED",
        "The content does not match what the sender signed: it was altered after signing.",
        {
          hint: "Do not use this file; ask the sender to send it again.",
          details: { reason: "message-digest" },
        },
      );
    }
    checks.push("message-digest");
    const st = singleValue(attrs, OID.signingTime, "signing-time");
    if (st) {
      signingTime = decodeTime(st);
      checks.push("signing-time");
    }
    checkAlgorithmProtection(attrs, f);
    if (attrs.has(OID.cmsAlgorithmProtection)) checks.push("algorithm-protection");
    const scv2 = singleValue(attrs, OID.signingCertificateV2, "signing-certificate-v2");
    if (scv2) {
      checkSigningCertificate(scv2, signer, false);
      checks.push("signing-certificate-v2");
    }
    const scv1 = singleValue(attrs, OID.signingCertificate, "signing-certificate");
    if (scv1) {
      checkSigningCertificate(scv1, signer, true);
      checks.push("signing-certificate");
    }
    const m = singleValue(attrs, MANIFEST_ATTRIBUTE_OID, "transfer-manifest");
    if (m) {
      manifest = decodeManifest(m);
      checks.push("manifest");
    }
  } else {
    if (sd.eContentType !== OID.data) {
      throw badAttrs(
        "signed attributes are required when the content type is not id-data",
        "signed-attributes-missing",
      );
    }
    if (!verifyDigestSignature(sigAlg, signer, contentDigest, f.signature)) {
      throw badSig("the signature does not match the content", "signature");
    }
    checks.push("signature");
    warnings.push("The signature has no signed attributes (no signing time, no certificate binding).");
  }
  return { signer, signingTime, manifest, signatureAlgorithm: sigAlg.name, digest, checks, warnings, fileCerts };
}

/** The trust policy for one signer, now (the policy's clock); PkiError => UNTRUSTED_SIGNER. */
async function validateSigner(
  signer: CertInfo,
  fileCerts: CertInfo[],
  options: Pick<VerifySignerOptions, "trust" | "intermediates">,
): Promise<TrustResult> {
  try {
    // No `time`: the policy validates now. The signingTime is the signer's own claim.
    return await options.trust.validate(signer, {
      intermediates: [...fileCerts, ...(options.intermediates ?? [])],
      purpose: "sign",
    });
  } catch (e) {
    if (e instanceof PkiError) {
      throw new CmsError(
        "UNTRUSTED_SIGNER",
        `The signer ${signer.commonName || signer.subject} is not trusted: ${e.message}`,
        {
          cause: e,
          hint: e.hint ?? "Check the trust anchors and revocation data, or ask the sender about their certificate.",
          details: { pkiCode: e.code, signer: signer.subject, serialHex: signer.serialHex, ...(e.details ?? {}) },
        },
      );
    }
    throw e;
  }
}

function badSig(what: string, reason: string): CmsError {
  return new CmsError("BAD_SIGNATURE", `The signature is not valid: ${what}.`, {
    hint: "The file was altered or signed with another key; ask the sender to sign it again.",
    details: { reason },
  });
}

function verifySignature(alg: SignatureAlg, signer: CertInfo, data: Buffer, sig: Buffer): boolean {
  try {
    if (alg.kind === "ecdsa") return ecdsaVerify(signer.publicKey, data, sig, alg.hash as HashName);
    return rsaVerify(signer.publicKey, data, sig, {
      scheme: alg.kind === "rsa-pss" ? "pss" : "pkcs1",
      hash: alg.hash as HashName,
      saltLength: alg.saltLength,
    });
  } catch {
    return false;
  }
}

/** RSA PKCS#1 v1.5 signature directly over the content digest (no signed attributes). */
function verifyDigestSignature(alg: SignatureAlg, signer: CertInfo, digest: Buffer, sig: Buffer): boolean {
  if (alg.kind !== "rsa-pkcs1") {
    throw new CmsError("UNSUPPORTED_ALGORITHM", `A ${alg.name} signature without signed attributes is not supported.`);
  }
  try {
    const em = publicDecrypt({ key: signer.publicKey, padding: constants.RSA_PKCS1_PADDING }, sig);
    const os = Buffer.concat([Buffer.from([0x04, digest.length]), digest]);
    const withNull = seq(digestAlgIdWithNull(alg.hash), os);
    const withoutParams = seq(digestAlgId(alg.hash as "sha256"), os);
    return em.equals(withNull) || em.equals(withoutParams);
  } catch {
    return false;
  }
}

function digestAlgIdWithNull(hash: string): Buffer {
  const base = digestAlgId(hash as "sha256");
  return Buffer.concat([Buffer.from([0x30, base[1]! + 2]), base.subarray(2), Buffer.from([0x05, 0x00])]);
}

/** RFC 6211: when present, the protected algorithms must equal the SignerInfo's. */
function checkAlgorithmProtection(attrs: AttributeMap, f: SignerInfoFields): void {
  const v = singleValue(attrs, OID.cmsAlgorithmProtection, "CMS-algorithm-protection");
  if (!v) return;
  if (v.tag !== TAG.SEQUENCE || !v.children[0])
    throw badAttrs("the CMSAlgorithmProtection attribute is not well-formed", "algorithm-protection-format");
  const d = parseAlgId(v.children[0], "the protected digest algorithm");
  const s = v.children.find((c) => c.tag === 0xa1);
  if (v.children.some((c) => c.tag === 0xa2))
    throw badAttrs("the CMSAlgorithmProtection names a MAC algorithm in a signature", "algorithm-protection-mismatch");
  if (!s)
    throw badAttrs("the CMSAlgorithmProtection attribute lacks the signature algorithm", "algorithm-protection-format");
  const sAlg = parseAlgId(
    decode(Buffer.concat([Buffer.from([0x30]), s.raw.subarray(1)])),
    "the protected signature algorithm",
  );
  if (!sameAlg(d, f.digestAlg) || !sameAlg(sAlg, f.signatureAlg)) {
    throw badAttrs(
      "the algorithms named in CMSAlgorithmProtection differ from those used (possible downgrade)",
      "algorithm-protection-mismatch",
    );
  }
}

/** Same OID and same parameters, treating absent and NULL parameters as equal. */
function sameAlg(a: AlgId, b: AlgId): boolean {
  if (a.oid !== b.oid) return false;
  const pa = a.params && a.params.tag !== TAG.NULL ? a.params.raw : undefined;
  const pb = b.params && b.params.tag !== TAG.NULL ? b.params.raw : undefined;
  if (!pa || !pb) return pa === pb;
  return pa.equals(pb);
}

import { type CertInfo, type KeyEntry, keyHandleOf, PkiError, type PrivateKeyHandle } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import {
  DIGEST_LENGTH,
  type DigestName,
  type SignatureScheme,
  digestAlgId,
  signatureAlgId,
  signatureAlgName,
} from "./algorithms.js";
import { buildSignedAttributes } from "./attributes.js";
import { encodeInteger, encodeOid, octetString, seq, setOf, tlv } from "./ber/der.js";
import { EOC, SEGMENT_BYTES, SegmentWriter, openIndefinite } from "./ber/writer.js";
import { CmsError } from "./errors.js";
import { type HashGroup, hashGroup } from "./hash-thread.js";
import { OID } from "./oids.js";

/** Options of the SignedData stream generator. */
export interface SignedDataWriterOptions {
  signer: KeyEntry;
  /** Default "sha256". */
  digest?: DigestName;
  /** Default "pkcs1". */
  signatureScheme?: SignatureScheme;
  manifest?: TransferManifest;
  /** Default: now. */
  signingTime?: Date;
  /** Default true (signer cert + keystore chain). */
  includeChain?: boolean;
  /** Default false. When true the content is hashed but not written (detached signature). */
  detached?: boolean;
  /** Default SEGMENT_BYTES (1 MiB): size of the eContent OCTET STRING segments. */
  chunkSize?: number;
}

/** EC curves sealpost signs with (ECDSA): P-256 and P-384. */
const SIGNING_CURVES = new Set(["prime256v1", "secp384r1"]);

/**
 * Check a signing key before use: RSA >= 2048 bits or EC P-256/P-384, a certificate allowing signatures, and a
 * scheme that fits the key (RSA-PSS needs RSA). Returns the key's handle.
 */
export function checkSignerKey(signer: KeyEntry, scheme: SignatureScheme = "pkcs1"): PrivateKeyHandle {
  const c = signer.cert;
  const who = c.commonName || c.subject;
  if (c.keyType !== "rsa" && c.keyType !== "ec") {
    throw new CmsError(
      "UNSUPPORTED_ALGORITHM",
      `The signing certificate of ${who} has a ${c.keyType} key; sealpost signs with RSA and EC (P-256, P-384) keys.`,
    );
  }
  const curve = c.publicKey.asymmetricKeyDetails?.namedCurve;
  if (c.keyType === "ec" && !SIGNING_CURVES.has(curve ?? "")) {
    throw new CmsError(
      "UNSUPPORTED_ALGORITHM",
      `The signing key of ${who} is on the curve ${curve}; sealpost signs with P-256 and P-384 EC keys.`,
    );
  }
  if (c.keyType === "rsa" && (c.keyBits ?? 0) < 2048) {
    throw new CmsError(
      "WEAK_ALGORITHM",
      `The signing key of ${who} has ${c.keyBits} bits; at least 2048 are required.`,
      {
        hint: "Apply for a new certificate with an RSA-2048 or larger key.",
      },
    );
  }
  if (c.keyUsage && !c.keyUsage.has("digitalSignature") && !c.keyUsage.has("nonRepudiation")) {
    throw new CmsError("KEY_USAGE", `The certificate of ${who} is not a signing certificate (no digitalSignature).`, {
      hint: "Use the signing key of your keystore or IC card, not the encryption key.",
    });
  }
  if (c.keyType === "ec" && scheme === "pss") {
    throw new CmsError("UNSUPPORTED_ALGORITHM", `RSA-PSS needs an RSA key; the signing key of ${who} is an EC key.`, {
      hint: "Leave out the PSS option: EC keys sign with ECDSA.",
    });
  }
  const key = keyHandleOf(signer);
  if (key.algorithm !== c.keyType) {
    throw new CmsError("KEY_USAGE", `The private key of ${who} does not belong to its certificate.`);
  }
  return key;
}

/**
 * Check that the signer's own certificate is valid at `now` (default: the clock now, whatever signingTime is
 * written): PkiError EXPIRED or NOT_YET_VALID otherwise. seal and sign call it before anything is written, so
 * nobody signs with a certificate that every reader would refuse. Revocation is the caller's (a trust policy).
 */
export function checkSigningCertValidity(signer: KeyEntry, now: Date = new Date()): void {
  const c = signer.cert;
  if (now >= c.notBefore && now <= c.notAfter) return;
  const code = now < c.notBefore ? "NOT_YET_VALID" : "EXPIRED";
  throw new PkiError(
    code,
    `Your signing certificate (${c.commonName || c.subject}, serial ${c.serialHex}) is not valid now: it is valid from ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}.`,
    {
      hint:
        code === "EXPIRED"
          ? "Use your current signing certificate, or apply for a new one; files signed with it would be refused."
          : "Use your current signing certificate until this one becomes valid.",
      details: { subject: c.subject, serialHex: c.serialHex, notBefore: c.notBefore, notAfter: c.notAfter },
    },
  );
}

/**
 * Stream generator of a SignedData (RFC 5652 section 5) wrapped in a ContentInfo, as indefinite-length BER.
 *
 * Call order: `start()` once, `update(chunk)` for each piece of content (any size), then `await finish()` once:
 * finish signs through the signer's key handle (in this process or on a token) and writes the trailer
 * (certificates and the SignerInfo, whose signed attributes need the final digest). Output goes
 * to `emit` synchronously; memory use is one segment (chunkSize) regardless of the content size. `update()` keeps
 * no reference to its argument, but it may pass chunk-aligned runs of it to `emit` as they are: `emit` must copy or
 * consume them before the caller reuses the buffer.
 */
export class SignedDataWriter {
  readonly digest: DigestName;
  readonly scheme: SignatureScheme | "ecdsa";
  readonly signingTime: Date;
  private readonly hash: HashGroup;
  private readonly key: PrivateKeyHandle;
  private readonly segments: SegmentWriter;
  private started = false;
  private finished = false;
  contentBytes = 0;
  /** The content digest, after finish(). */
  contentDigest: Buffer | undefined;

  constructor(
    private readonly opts: SignedDataWriterOptions,
    private readonly emit: (b: Buffer) => void,
  ) {
    this.key = checkSignerKey(opts.signer, opts.signatureScheme);
    this.digest = opts.digest ?? (this.key.bits === 384 && this.key.algorithm === "ec" ? "sha384" : "sha256");
    this.scheme = this.key.algorithm === "ec" ? "ecdsa" : (opts.signatureScheme ?? "pkcs1");
    this.signingTime = opts.signingTime ?? new Date();
    this.hash = hashGroup([this.digest]);
    this.segments = new SegmentWriter(emit, opts.chunkSize ?? SEGMENT_BYTES);
  }

  get signatureAlgorithm(): string {
    return signatureAlgName(this.scheme, this.digest);
  }

  start(): void {
    if (this.started) throw new Error("SignedDataWriter.start() called twice");
    this.started = true;
    const out = [
      openIndefinite(0x30), // ContentInfo
      encodeOid(OID.signedData),
      openIndefinite(0xa0), // [0] EXPLICIT
      openIndefinite(0x30), // SignedData
      encodeInteger(1),
      setOf([digestAlgId(this.digest)]),
      openIndefinite(0x30), // EncapsulatedContentInfo
      encodeOid(OID.data),
    ];
    if (!this.opts.detached) out.push(openIndefinite(0xa0), openIndefinite(0x24));
    this.emit(Buffer.concat(out));
  }

  update(chunk: Uint8Array): void {
    if (!this.started || this.finished) throw new Error("SignedDataWriter.update() outside start()/finish()");
    this.hash.update(chunk);
    this.contentBytes += chunk.length;
    if (!this.opts.detached) this.segments.write(chunk);
  }

  async finish(): Promise<void> {
    if (!this.started || this.finished) throw new Error("SignedDataWriter.finish() outside start()");
    this.finished = true;
    this.segments.flush();
    const [digest] = (await this.hash.digests()) as [Buffer];
    this.contentDigest = digest;
    const signer = this.opts.signer;
    const dAlg = digestAlgId(this.digest);
    const sAlg = signatureAlgId(this.scheme, this.digest);
    const attrs = buildSignedAttributes({
      contentType: OID.data,
      digest,
      signingTime: this.signingTime,
      signerCert: signer.cert,
      digestAlgId: dAlg,
      signatureAlgId: sAlg,
      manifest: this.opts.manifest,
    });
    const signature = await this.key.sign(
      attrs,
      this.scheme === "pss"
        ? { scheme: "rsa-pss", hash: this.digest, saltLength: DIGEST_LENGTH[this.digest]! }
        : { scheme: this.scheme === "ecdsa" ? "ecdsa" : "rsa-pkcs1", hash: this.digest },
    );
    const sid = seq(Buffer.from(signer.cert.issuerDer), encodeInteger(Buffer.from(signer.cert.serialHex, "hex")));
    const signerInfo = seq(
      encodeInteger(1),
      sid,
      dAlg,
      tlv(0xa0, attrs.subarray(headerLength(attrs))),
      sAlg,
      octetString(signature),
    );
    const certs = certificateList(signer.cert, this.opts.includeChain === false ? [] : signer.chain);
    const out: Buffer[] = [];
    if (!this.opts.detached) out.push(EOC, EOC); // OCTET STRING, [0]
    out.push(EOC); // EncapsulatedContentInfo
    const certSet = setOf(certs.map((c) => Buffer.from(c.der)));
    out.push(tlv(0xa0, certSet.subarray(headerLength(certSet))));
    out.push(setOf([signerInfo]));
    out.push(EOC, EOC, EOC); // SignedData, [0], ContentInfo
    this.emit(Buffer.concat(out));
  }
}

/** Length of a DER header (identifier + length octets) with a single-byte tag. */
export function headerLength(der: Buffer): number {
  const l = der[1]!;
  return 2 + (l < 0x80 ? 0 : l & 0x7f);
}

/** The signer cert followed by its chain, duplicates removed. */
function certificateList(cert: CertInfo, chain: CertInfo[]): CertInfo[] {
  const seen = new Set<string>();
  const out: CertInfo[] = [];
  for (const c of [cert, ...chain]) {
    const k = Buffer.from(c.der).toString("base64");
    if (!seen.has(k)) {
      seen.add(k);
      out.push(c);
    }
  }
  return out;
}

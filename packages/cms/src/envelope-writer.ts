import { createCipheriv, randomBytes } from "node:crypto";
import type { CipherGCM } from "node:crypto";
import type { CertInfo } from "@sealpost/pki";
import { type CipherName, type KeyTransportName, cbcAlgId, gcmAlgId } from "./algorithms.js";
import { encodeInteger, encodeOid, octetString } from "./ber/der.js";
import { EOC, SEGMENT_BYTES, SegmentWriter, openIndefinite } from "./ber/writer.js";
import { OID } from "./oids.js";
import { keyAgreeNameFor } from "./key-agreement.js";
import { buildRecipientInfos, checkRecipientCert } from "./recipient-infos.js";

/**
 * Most bytes handed to the cipher in one call (256 KiB). Node allocates a fresh output buffer per call: 1 MiB
 * outputs ran at half the speed (allocation and cache misses when they are hashed), while 64 KiB pieces cost
 * more calls, promises and buffers to collect (main-thread CPU 6-8% higher in the median of 6 runs).
 */
export const CIPHER_PIECE_BYTES = 256 * 1024;

export interface EnvelopeWriterOptions {
  recipients: CertInfo[];
  /** Default "aes-256-gcm" (AuthEnvelopedData, RFC 5083/5084); "aes-256-cbc" writes EnvelopedData. */
  cipher?: CipherName;
  /** Default "oaep". */
  keyTransport?: KeyTransportName;
  /** Default "issuerAndSerialNumber". */
  recipientIdentifier?: "issuerAndSerialNumber" | "subjectKeyIdentifier";
  /** Default SEGMENT_BYTES (1 MiB): size of the encryptedContent OCTET STRING segments. */
  chunkSize?: number;
  /** Default: now (recipient certificates must be valid at this time). */
  now?: Date;
  /**
   * Encrypted content type. Default id-data (the plaintext is a complete ContentInfo, as openssl writes);
   * id-signedData when the plaintext is a bare SignedData (strict RFC 5652 nesting).
   */
  encryptedContentType?: string;
}

/**
 * Stream generator of an AuthEnvelopedData (AES-256-GCM, 12-byte nonce, 16-byte tag in `mac`) or EnvelopedData
 * (AES-256-CBC) in a ContentInfo, indefinite-length BER, encrypted content type id-data.
 *
 * Call order: `start()`, `update(plaintext)` any number of times, `finish()` once: finish writes the trailer
 * (last segment, the GCM tag, end-of-contents octets). A fresh random CEK and IV are drawn per envelope.
 * `update()` consumes its argument synchronously; what reaches `emit` is the cipher's own output (the consumer may
 * keep it), held back by at most one segment.
 */
export class EnvelopeWriter {
  readonly cipherName: CipherName;
  readonly keyTransport: KeyTransportName;
  /** The distinct key transport / agreement names used, RSA first ("rsaes-oaep-sha256", "ecdh-sha256kdf-aes256-wrap"). */
  readonly keyTransportNames: string[];
  private readonly cipher;
  private readonly cek: Buffer;
  private readonly iv: Buffer;
  private readonly segments: SegmentWriter;
  private state: "new" | "open" | "done" = "new";

  constructor(
    private readonly opts: EnvelopeWriterOptions,
    private readonly emit: (b: Buffer) => void,
  ) {
    if (opts.recipients.length === 0) throw new TypeError("seal needs at least one recipient");
    for (const r of opts.recipients) checkRecipientCert(r, opts.now);
    this.cipherName = opts.cipher ?? "aes-256-gcm";
    this.keyTransport = opts.keyTransport ?? "oaep";
    const names = new Set<string>();
    if (opts.recipients.some((r) => r.keyType !== "ec")) {
      names.add(this.keyTransport === "oaep" ? "rsaes-oaep-sha256" : "rsaes-pkcs1-v1_5");
    }
    for (const r of opts.recipients) if (r.keyType === "ec") names.add(keyAgreeNameFor(r));
    this.keyTransportNames = [...names];
    this.cek = randomBytes(32);
    this.iv = randomBytes(this.cipherName === "aes-256-gcm" ? 12 : 16);
    this.cipher =
      this.cipherName === "aes-256-gcm"
        ? createCipheriv("aes-256-gcm", this.cek, this.iv, { authTagLength: 16 })
        : createCipheriv("aes-256-cbc", this.cek, this.iv);
    // The cipher's output is fresh: the segmenter keeps it instead of copying.
    this.segments = new SegmentWriter(emit, opts.chunkSize ?? SEGMENT_BYTES, true);
  }

  start(): void {
    if (this.state !== "new") throw new Error("EnvelopeWriter.start() called twice");
    this.state = "open";
    const gcm = this.cipherName === "aes-256-gcm";
    const sid = this.opts.recipientIdentifier ?? "issuerAndSerialNumber";
    const ris = buildRecipientInfos(this.opts.recipients, this.cek, this.keyTransport, sid);
    // RFC 5652 6.1: EnvelopedData is version 0 only when every RecipientInfo is (a ktri by issuer and serial).
    const allV0 = sid !== "subjectKeyIdentifier" && this.opts.recipients.every((r) => r.keyType !== "ec");
    const version = gcm || allV0 ? 0 : 2;
    this.emit(
      Buffer.concat([
        openIndefinite(0x30),
        encodeOid(gcm ? OID.authEnvelopedData : OID.envelopedData),
        openIndefinite(0xa0),
        openIndefinite(0x30),
        encodeInteger(version),
        ris,
        openIndefinite(0x30), // EncryptedContentInfo
        encodeOid(this.opts.encryptedContentType ?? OID.data),
        gcm ? gcmAlgId(this.iv) : cbcAlgId(this.iv),
        openIndefinite(0xa0), // [0] IMPLICIT encryptedContent, constructed
      ]),
    );
  }

  update(plain: Uint8Array): void {
    if (this.state !== "open") throw new Error("EnvelopeWriter.update() outside start()/finish()");
    // In pieces of CIPHER_PIECE_BYTES: the cipher's output buffers then stay in cache for the output hash.
    for (let off = 0; off < plain.length; off += CIPHER_PIECE_BYTES) {
      const c = this.cipher.update(plain.subarray(off, off + CIPHER_PIECE_BYTES));
      if (c.length) this.segments.write(c);
    }
  }

  finish(): void {
    if (this.state !== "open") throw new Error("EnvelopeWriter.finish() outside start()");
    this.state = "done";
    const last = this.cipher.final();
    if (last.length) this.segments.write(last);
    this.segments.flush();
    const out: Buffer[] = [EOC, EOC]; // [0] encryptedContent, EncryptedContentInfo
    if (this.cipherName === "aes-256-gcm") out.push(octetString((this.cipher as CipherGCM).getAuthTag()));
    out.push(EOC, EOC, EOC); // AuthEnvelopedData/EnvelopedData, [0], ContentInfo
    this.emit(Buffer.concat(out));
    this.cek.fill(0);
  }
}

import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CoreTransform, writeThrough } from "./core-stream.js";
import { EnvelopeWriter } from "./envelope-writer.js";
import { FileInput } from "./file-input.js";
import { type HashGroup, hashGroup } from "./hash-thread.js";
import { recipientSummary } from "./recipient-infos.js";
import { SignedDataWriter, checkSigningCertValidity } from "./signed-data-writer.js";
import { TempOutput } from "./temp-output.js";
import type { SealOptions, SealResult } from "./types.js";

/**
 * The core of a seal, shared by SealStream and sealFile: the SignedData writer inside the envelope
 * writer, plus the output hash. `update()` keeps no reference to its argument (the caller may reuse the buffer);
 * what reaches `emit` is fresh and is the consumer's to keep.
 */
class Sealer {
  private readonly inner: SignedDataWriter;
  private readonly envelope: EnvelopeWriter;
  private readonly contentHash: HashGroup | undefined;
  private readonly outputHash = hashGroup(["sha256"]);
  private outputBytes = 0;
  private started = false;

  constructor(
    private readonly options: SealOptions,
    private readonly emit: (b: Buffer) => void,
  ) {
    checkSigningCertValidity(options.signer);
    this.envelope = new EnvelopeWriter(
      {
        recipients: options.recipients,
        cipher: options.cipher,
        keyTransport: options.keyTransport,
        recipientIdentifier: options.recipientIdentifier,
      },
      (b) => this.out(b),
    );
    this.inner = new SignedDataWriter(
      {
        signer: options.signer,
        digest: options.digest,
        signatureScheme: options.signatureScheme,
        // The recipients' certificate hashes are always signed with the content (the forwarded-file check).
        manifest: { ...options.manifest, recipients: options.recipients.map((c) => c.sha256) },
        signingTime: options.signingTime,
        includeChain: options.includeChain,
      },
      (b) => this.envelope.update(b),
    );
    // The signature's digest is the content's SHA-256 already, unless another digest was chosen.
    if (this.inner.digest !== "sha256") this.contentHash = hashGroup(["sha256"]);
  }

  private out(b: Buffer): void {
    this.outputHash.update(b);
    this.outputBytes += b.length;
    this.emit(b);
  }

  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    this.envelope.start();
    this.inner.start();
  }

  update(chunk: Uint8Array): void {
    this.ensureStarted();
    this.contentHash?.update(chunk);
    this.inner.update(chunk);
    this.options.onProgress?.(this.inner.contentBytes);
  }

  async finish(): Promise<SealResult> {
    this.ensureStarted();
    await this.inner.finish();
    this.envelope.finish();
    const [outputSha256] = await this.outputHash.digests();
    const contentSha256 = this.contentHash ? (await this.contentHash.digests())[0] : this.inner.contentDigest;
    return {
      outputBytes: this.outputBytes,
      outputSha256: outputSha256!.toString("hex"),
      contentBytes: this.inner.contentBytes,
      contentSha256: contentSha256!.toString("hex"),
      recipients: this.options.recipients.map(recipientSummary),
      cipher: this.envelope.cipherName,
      keyTransport: this.envelope.keyTransportNames.join(", "),
      signatureAlgorithm: this.inner.signatureAlgorithm,
      signingTime: this.inner.signingTime,
    };
  }
}

/**
 * Stream generator of a sealed file: a Transform that takes the file's bytes and yields the sealed file
 * (ContentInfo/AuthEnvelopedData or EnvelopedData around ContentInfo/SignedData, indefinite-length BER).
 *
 * Call order: write the content, then end() it: ending writes the trailer (the signer's SignerInfo, whose signed
 * attributes need the final digest, then the GCM tag). `result` is available after the 'end' event. Memory use is
 * bounded (about two segments of SEGMENT_BYTES, 1 MiB, plus the stream buffers) whatever the content size;
 * backpressure is the stream's. Written chunks are not kept after the write callback. Construction validates the
 * options synchronously (KEY_USAGE, WEAK_ALGORITHM, PkiError EXPIRED ...).
 */
export class SealStream extends CoreTransform<SealResult> {
  constructor(options: SealOptions) {
    super((emit) => new Sealer(options, emit));
  }
}

/** Start a seal: returns the stream generator (see SealStream). */
export function createSealStream(options: SealOptions): SealStream {
  return new SealStream(options);
}

/**
 * Seal `input` to `output` (stream to stream); `output` is ended by seal. Options are validated first
 * (KEY_USAGE, WEAK_ALGORITHM, PkiError EXPIRED/NOT_YET_VALID ...): on such an error neither stream is touched.
 * Later failures reject with the error and destroy the streams (pipeline semantics): a partial output must be
 * discarded by the caller (sealFile does that for files).
 */
export async function seal(input: Readable, output: Writable, options: SealOptions): Promise<SealResult> {
  const s = new SealStream(options);
  await pipeline(input, s, output);
  return s.result!;
}

/**
 * Seal the file at `inPath` into `outPath`: writes a temporary file beside outPath (mode 0600) and renames it at
 * the end. OUTPUT_EXISTS unless `force`; on failure nothing is left behind. The file is read in 1 MiB chunks with
 * a read ahead and written behind in batches (see FileInput, TempOutput), so the disk works while this thread
 * hashes and encrypts; memory stays bounded (about 7 MiB of buffers) whatever the file size.
 */
export async function sealFile(
  inPath: string,
  outPath: string,
  options: SealOptions & { force?: boolean },
): Promise<SealResult> {
  // Options are validated (by the Sealer) before the file system is touched; output goes to the write-behind queue.
  const sealer = new Sealer(options, (b) => tmp.push(b));
  const tmp = await TempOutput.create(outPath, options.force, false); // not durable: see TempOutput
  let input: FileInput;
  try {
    input = await FileInput.open(inPath, { reuse: true });
  } catch (e) {
    await tmp.abort();
    throw e;
  }
  try {
    return await writeThrough(input, sealer, tmp);
  } finally {
    await input.close();
  }
}

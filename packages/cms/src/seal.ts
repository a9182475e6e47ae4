import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { EnvelopeWriter } from "./envelope-writer.js";
import { CmsError } from "./errors.js";
import { recipientSummary } from "./recipient-infos.js";
import { SignedDataWriter } from "./signed-data-writer.js";
import { TempOutput, ioError } from "./temp-output.js";
import type { SealOptions, SealResult } from "./types.js";

/**
 * Stream generator of a sealed file: a Transform that takes the file's bytes and yields the sealed file
 * (ContentInfo/AuthEnvelopedData or EnvelopedData around ContentInfo/SignedData, indefinite-length BER).
 *
 * Call order: write the content, then end() it: ending writes the trailer (the signer's SignerInfo, whose signed
 * attributes need the final digest, then the GCM tag). `result` is available after the 'end' event. Memory use is
 * bounded (two 64 KiB segments plus the stream buffers) whatever the content size; backpressure is the stream's.
 * Construction validates the options synchronously (KEY_USAGE, WEAK_ALGORITHM, PkiError EXPIRED ...).
 */
export class SealStream extends Transform {
  private readonly inner: SignedDataWriter;
  private readonly envelope: EnvelopeWriter;
  private readonly contentHash = createHash("sha256");
  private readonly outputHash = createHash("sha256");
  private outputBytes = 0;
  private started = false;
  result: SealResult | undefined;

  constructor(private readonly options: SealOptions) {
    super();
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
        manifest: options.manifest,
        signingTime: options.signingTime,
        includeChain: options.includeChain,
      },
      (b) => this.envelope.update(b),
    );
  }

  private out(b: Buffer): void {
    this.outputHash.update(b);
    this.outputBytes += b.length;
    this.push(b);
  }

  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    this.envelope.start();
    this.inner.start();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.ensureStarted();
      if (this.inner.digest !== "sha256") this.contentHash.update(chunk);
      this.inner.update(chunk);
      this.options.onProgress?.(this.inner.contentBytes);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.ensureStarted();
      this.inner.finish();
      this.envelope.finish();
      this.result = {
        outputBytes: this.outputBytes,
        outputSha256: this.outputHash.digest("hex"),
        contentBytes: this.inner.contentBytes,
        contentSha256:
          this.inner.digest === "sha256" ? this.inner.contentDigest!.toString("hex") : this.contentHash.digest("hex"),
        recipients: this.options.recipients.map(recipientSummary),
        cipher: this.envelope.cipherName,
        keyTransport: this.envelope.keyTransport === "oaep" ? "rsaes-oaep-sha256" : "rsaes-pkcs1-v1_5",
        signatureAlgorithm: this.inner.signatureAlgorithm,
        signingTime: this.inner.signingTime,
      };
      cb();
    } catch (e) {
      cb(e as Error);
    }
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
 * the end. OUTPUT_EXISTS unless `force`; on failure nothing is left behind.
 */
export async function sealFile(
  inPath: string,
  outPath: string,
  options: SealOptions & { force?: boolean },
): Promise<SealResult> {
  const s = new SealStream(options); // validate options before touching the file system
  const tmp = await TempOutput.create(outPath, options.force);
  try {
    let input: Readable;
    try {
      input = createReadStream(inPath);
      await new Promise<void>((resolve, reject) => {
        input.once("open", () => resolve());
        input.once("error", reject);
      });
    } catch (e) {
      throw ioError(`cannot read ${inPath}`, e);
    }
    await pipeline(input, s, tmp.writable()).catch((e) => {
      if (e instanceof CmsError) throw e;
      if ((e as NodeJS.ErrnoException).code) throw ioError(`cannot seal ${inPath} into ${outPath}`, e);
      throw e;
    });
    await tmp.commit();
    return s.result!;
  } catch (e) {
    await tmp.abort();
    throw e;
  }
}

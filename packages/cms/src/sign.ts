import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CmsError } from "./errors.js";
import { openInput } from "./open.js";
import { SignedDataWriter } from "./signed-data-writer.js";
import { TempOutput, ioError } from "./temp-output.js";
import type { SignOptions, SignResult } from "./types.js";

/**
 * Stream generator of a ContentInfo/SignedData alone (no encryption), attached (content encapsulated in
 * indefinite-length BER segments) or detached (`detached: true`: eContent omitted, only the digest is signed).
 * Call order as SealStream: write the content, end() writes the trailer (certificates and SignerInfo);
 * `result` is set after 'end'.
 */
export class SignStream extends Transform {
  private readonly writer: SignedDataWriter;
  private readonly contentHash = createHash("sha256");
  private readonly outputHash = createHash("sha256");
  private outputBytes = 0;
  private started = false;
  result: SignResult | undefined;

  constructor(private readonly options: Omit<SignOptions, "force">) {
    super();
    this.writer = new SignedDataWriter(
      {
        signer: options.signer,
        detached: options.detached,
        digest: options.digest,
        signatureScheme: options.signatureScheme,
        manifest: options.manifest,
        signingTime: options.signingTime,
        includeChain: options.includeChain,
      },
      (b) => {
        this.outputHash.update(b);
        this.outputBytes += b.length;
        this.push(b);
      },
    );
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      if (!this.started) {
        this.started = true;
        this.writer.start();
      }
      this.contentHash.update(chunk);
      this.writer.update(chunk);
      this.options.onProgress?.(this.writer.contentBytes);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.started) {
        this.started = true;
        this.writer.start();
      }
      this.writer.finish();
      this.result = {
        outputBytes: this.outputBytes,
        outputSha256: this.outputHash.digest("hex"),
        contentBytes: this.writer.contentBytes,
        contentSha256: this.contentHash.digest("hex"),
        detached: this.options.detached === true,
        signatureAlgorithm: this.writer.signatureAlgorithm,
        signingTime: this.writer.signingTime,
      };
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

/**
 * Sign the file at `inPath` into `outPath` (a DER/BER ContentInfo/SignedData; attached by default). Same signed
 * attributes as seal (contentType, messageDigest, signingTime, signingCertificateV2, CMSAlgorithmProtection,
 * manifest). Temp file beside outPath, renamed at the end; OUTPUT_EXISTS unless `force`.
 */
export async function signFile(inPath: string, outPath: string, options: SignOptions): Promise<SignResult> {
  const s = new SignStream(options);
  const input = await openInput(inPath);
  const tmp = await TempOutput.create(outPath, options.force);
  try {
    await pipeline(input, s, tmp.writable()).catch((e) => {
      if (e instanceof CmsError) throw e;
      throw ioError(`cannot sign ${inPath} into ${outPath}`, e);
    });
    await tmp.commit();
    return s.result!;
  } catch (e) {
    await tmp.abort();
    input.destroy();
    throw e;
  }
}

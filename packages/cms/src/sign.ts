import { CoreTransform, writeThrough } from "./core-stream.js";
import { FileInput } from "./file-input.js";
import { type HashGroup, hashGroup } from "./hash-thread.js";
import { SignedDataWriter, checkSigningCertValidity } from "./signed-data-writer.js";
import { TempOutput } from "./temp-output.js";
import type { SignOptions, SignResult } from "./types.js";

/**
 * Stream generator of a ContentInfo/SignedData alone (no encryption), attached (content encapsulated in
 * indefinite-length BER segments) or detached (`detached: true`: eContent omitted, only the digest is signed).
 * Call order as SealStream: write the content, end() writes the trailer (certificates and SignerInfo);
 * `result` is set after 'end'.
 */
export class SignStream extends CoreTransform<SignResult> {
  constructor(options: Omit<SignOptions, "force">) {
    super((emit) => new SignCore(options, emit));
  }
}

/**
 * The core shared by SignStream and signFile. Chunk-aligned runs of the content reach `emit` as they
 * are (see SignedDataWriter): callers hand in buffers they will not modify.
 */
class SignCore {
  private readonly writer: SignedDataWriter;
  private readonly contentHash: HashGroup | undefined;
  private readonly outputHash = hashGroup(["sha256"]);
  private outputBytes = 0;
  private started = false;

  constructor(
    private readonly options: Omit<SignOptions, "force">,
    emit: (b: Buffer) => void,
  ) {
    checkSigningCertValidity(options.signer);
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
        emit(b);
      },
    );
    if (this.writer.digest !== "sha256") this.contentHash = hashGroup(["sha256"]);
  }

  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    this.writer.start();
  }

  update(chunk: Uint8Array): void {
    this.ensureStarted();
    this.contentHash?.update(chunk);
    this.writer.update(chunk);
    this.options.onProgress?.(this.writer.contentBytes);
  }

  async finish(): Promise<SignResult> {
    this.ensureStarted();
    await this.writer.finish();
    const [outputSha256] = await this.outputHash.digests();
    const contentSha256 = this.contentHash ? (await this.contentHash.digests())[0] : this.writer.contentDigest;
    return {
      outputBytes: this.outputBytes,
      outputSha256: outputSha256!.toString("hex"),
      contentBytes: this.writer.contentBytes,
      contentSha256: contentSha256!.toString("hex"),
      detached: this.options.detached === true,
      signatureAlgorithm: this.writer.signatureAlgorithm,
      signingTime: this.writer.signingTime,
    };
  }
}

/**
 * Sign the file at `inPath` into `outPath` (a DER/BER ContentInfo/SignedData; attached by default). Same signed
 * attributes as seal (contentType, messageDigest, signingTime, signingCertificateV2, CMSAlgorithmProtection,
 * manifest). Temp file beside outPath, renamed at the end; OUTPUT_EXISTS unless `force`.
 */
export async function signFile(inPath: string, outPath: string, options: SignOptions): Promise<SignResult> {
  const core = new SignCore(options, (b) => tmp.push(b)); // validates the options first
  const input = await FileInput.open(inPath); // fresh chunks: attached content is written as it is
  let tmp: TempOutput;
  try {
    tmp = await TempOutput.create(outPath, options.force, false); // not durable: see TempOutput
  } catch (e) {
    await input.close();
    throw e;
  }
  try {
    return await writeThrough(input, core, tmp);
  } finally {
    await input.close();
  }
}

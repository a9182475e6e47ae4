import { type FileHandle, open } from "node:fs/promises";
import { ioError } from "./temp-output.js";

/** Size of one read from an input file (1 MiB). */
export const READ_CHUNK_BYTES = 1 << 20;

/**
 * An input file read in chunks of READ_CHUNK_BYTES with one read ahead: the next read runs in the background
 * while the caller works on the current chunk. Iterate it once; then (or on failure) call `close()`, which waits
 * for a read in flight and is safe to call twice. Read errors are CmsError IO.
 *
 * By default every chunk is a fresh buffer the caller may keep. With `reuse`, two buffers alternate: a chunk is
 * valid only until the caller asks for the next one (for consumers that copy or consume synchronously, such as
 * hashing and encryption; it saves an allocation and the page faults of a fresh megabyte per chunk).
 */
export class FileInput implements AsyncIterable<Buffer> {
  private pending: Promise<number> | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly reuse: boolean,
    private readonly chunkSize: number,
  ) {}

  /** Open `path` for reading (CmsError IO when it cannot be opened). */
  static async open(path: string, options: { reuse?: boolean; chunkSize?: number } = {}): Promise<FileInput> {
    try {
      return new FileInput(path, await open(path, "r"), options.reuse === true, options.chunkSize ?? READ_CHUNK_BYTES);
    } catch (e) {
      throw ioError(`cannot read ${path}`, e);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const spare = this.reuse ? [Buffer.allocUnsafe(this.chunkSize), Buffer.allocUnsafe(this.chunkSize)] : [];
    let turn = 0;
    const buffer = () => (this.reuse ? spare[turn++ & 1]! : Buffer.allocUnsafe(this.chunkSize));
    let position = 0;
    let buf = buffer();
    this.pending = this.readAhead(buf, position);
    for (;;) {
      const n = await this.pending;
      this.pending = undefined;
      if (n === 0) return;
      position += n;
      const chunk = buf.subarray(0, n);
      buf = buffer();
      this.pending = this.readAhead(buf, position);
      yield chunk;
    }
  }

  /** Start a read; its failure surfaces when awaited (never as an unhandled rejection meanwhile). */
  private readAhead(buf: Buffer, position: number): Promise<number> {
    const p = this.read(buf, position);
    p.catch(() => {});
    return p;
  }

  private async read(buf: Buffer, position: number): Promise<number> {
    if (this.closed) return 0;
    try {
      return (await this.handle.read(buf, 0, buf.length, position)).bytesRead;
    } catch (e) {
      throw ioError(`cannot read ${this.path}`, e);
    }
  }

  /** Close the file (after a read in flight settles). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pending?.catch(() => 0);
    await this.handle.close().catch(() => {});
  }
}

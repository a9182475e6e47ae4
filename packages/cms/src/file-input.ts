import { type FileHandle, open } from "node:fs/promises";
import { ioError } from "./temp-output.js";

/** Size of one read from an input file (1 MiB). */
export const READ_CHUNK_BYTES = 1 << 20;

/** Reads kept in flight ahead of the caller (1: deeper read-ahead only made writes wait and memory grow). */
export const READ_AHEAD = 1;

interface PendingRead {
  buf: Buffer;
  position: number;
  done: Promise<number>;
}

/**
 * An input file read in chunks of READ_CHUNK_BYTES with READ_AHEAD reads in flight: the next reads run in the
 * background while the caller works on the current chunk (so a busy machine's late thread-pool wake-ups do not
 * stall it). Iterate it once; then (or on failure) call `close()`, which waits for the reads in flight and is safe
 * to call twice. Read errors are CmsError IO.
 *
 * By default every chunk is a fresh buffer the caller may keep. With `reuse`, READ_AHEAD + 1 buffers rotate: a
 * chunk is valid only until the caller asks for the next one (for consumers that copy or consume synchronously,
 * such as hashing and encryption; it saves an allocation and the page faults of a fresh megabyte per chunk).
 */
export class FileInput implements AsyncIterable<Buffer> {
  private readonly pending: PendingRead[] = [];
  private readonly spare: Buffer[] = [];
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly reuse: boolean,
    private readonly chunkSize: number,
    private readonly ahead: number,
  ) {}

  /** Open `path` for reading (CmsError IO when it cannot be opened). */
  static async open(
    path: string,
    options: { reuse?: boolean; chunkSize?: number; readAhead?: number } = {},
  ): Promise<FileInput> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (e) {
      throw ioError(`cannot read ${path}`, e);
    }
    const ahead = Math.max(1, options.readAhead ?? READ_AHEAD);
    return new FileInput(path, handle, options.reuse === true, options.chunkSize ?? READ_CHUNK_BYTES, ahead);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    let next = 0; // file position of the next read to start
    const fill = () => {
      while (!this.closed && this.pending.length < this.ahead) {
        const buf = (this.reuse && this.spare.pop()) || Buffer.allocUnsafe(this.chunkSize);
        this.pending.push({ buf, position: next, done: this.read(buf, next) });
        next += this.chunkSize;
      }
    };
    fill();
    let lent: Buffer | undefined; // the reused buffer the caller holds
    for (;;) {
      const head = this.pending.shift();
      if (!head) return; // closed
      const n = await head.done;
      if (lent) this.spare.push(lent);
      lent = undefined;
      if (n === 0) return;
      if (n < this.chunkSize) {
        // A short read (end of file, or a file that grew): later reads started past the gap; redo them from here.
        for (const p of this.pending.splice(0)) {
          await p.done.catch(() => 0);
          this.spare.push(p.buf);
        }
        next = head.position + n;
      }
      if (this.reuse) lent = head.buf;
      fill();
      yield head.buf.subarray(0, n);
    }
  }

  /** Start a read; its failure surfaces when awaited (never as an unhandled rejection meanwhile). */
  private read(buf: Buffer, position: number): Promise<number> {
    const p = (async () => {
      try {
        return (await this.handle.read(buf, 0, buf.length, position)).bytesRead;
      } catch (e) {
        throw ioError(`cannot read ${this.path}`, e);
      }
    })();
    p.catch(() => {});
    return p;
  }

  /** Close the file (after the reads in flight settle). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.splice(0)) await p.done.catch(() => 0);
    await this.handle.close().catch(() => {});
  }
}

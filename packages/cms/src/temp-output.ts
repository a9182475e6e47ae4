import { randomBytes } from "node:crypto";
import { type FileHandle, access, link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CmsError } from "./errors.js";

/** Once this many bytes are queued, they go to the disk in one writev call (1 MiB). */
export const WRITE_BATCH_BYTES = 1 << 20;
/** Queued plus in-flight bytes above which `ready()` waits for the disk (4 MiB): the write-behind's memory bound. */
export const WRITE_HIGH_WATER_BYTES = 4 << 20;
/** A durable output is synced in the background each time this many more bytes were written (32 MiB). */
export const SYNC_STEP_BYTES = 32 << 20;
/** Most buffers handed to one writev call (Linux allows 1024). */
const MAX_IOV = 512;

/**
 * A temporary file beside the target (`.<target>.sealpost-<random>.tmp`, mode 0600, created exclusively) that
 * becomes the target only on `commit()`. `abort()` removes it; callers call exactly one of them.
 * Without `force`, an existing target gives OUTPUT_EXISTS both up front and at commit (no-clobber link).
 *
 * Writes are write-behind: `push()` queues a buffer without copying it (the caller must not modify it afterwards)
 * and hands the queue to the disk in writev batches of WRITE_BATCH_BYTES, one call at a time in file order, while
 * the caller goes on computing. `ready()` is the backpressure (it waits while more than WRITE_HIGH_WATER_BYTES are
 * queued or in flight); a failed write is reported by the next push, ready, write or commit as CmsError IO.
 *
 * A `durable` output (the default) is synced to the disk before the rename, so a crash can never leave a partial
 * file under the target's name: needed for opened content, which staff trust as verified. The sync runs in the
 * background every SYNC_STEP_BYTES as the file grows, so that little is left to wait for at the end. Sealed and
 * signed files are not durable: a partial one after a crash fails its own checks (TRUNCATED), and a sync would
 * cost a disk write of the whole file.
 */
export class TempOutput {
  private closed = false;
  /** Bytes accepted so far (queued or written). */
  bytes = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private inFlight: Promise<void> | undefined;
  private inFlightBytes = 0;
  private position = 0;
  private failure: CmsError | undefined;
  private wake: (() => void) | undefined;
  private syncing: Promise<void> | undefined;
  private synced = 0;

  private constructor(
    readonly target: string,
    readonly path: string,
    readonly handle: FileHandle,
    private readonly force: boolean,
    private readonly durable: boolean,
  ) {}

  /** Create the temporary file for `target` (OUTPUT_EXISTS unless `force`; `durable` default true, see above). */
  static async create(target: string, force = false, durable = true): Promise<TempOutput> {
    if (!force && (await exists(target))) throw outputExists(target);
    const path = join(dirname(target), `.${basename(target)}.sealpost-${randomBytes(6).toString("hex")}.tmp`);
    let handle: FileHandle;
    try {
      handle = await open(path, "wx", 0o600);
    } catch (e) {
      throw ioError(`cannot create a temporary file in ${dirname(target)}`, e);
    }
    return new TempOutput(target, path, handle, force, durable);
  }

  /** Queue `b` (no copy: do not modify it afterwards). Throws the IO error of an earlier failed write. */
  push(b: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (b.length === 0) return;
    this.queue.push(b);
    this.queued += b.length;
    this.bytes += b.length;
    if (!this.inFlight && (this.queued >= WRITE_BATCH_BYTES || this.queue.length >= MAX_IOV)) this.startWrite();
  }

  /** Resolves at once unless too much waits for the disk; then when enough was written. Rejects after a failed write. */
  async ready(): Promise<void> {
    while (!this.failure && this.inFlight && this.queued + this.inFlightBytes > WRITE_HIGH_WATER_BYTES) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.failure) throw this.failure;
  }

  /** push() then ready(): append bytes with backpressure (the buffer is kept until written: do not modify it). */
  async write(b: Uint8Array): Promise<void> {
    this.push(b);
    await this.ready();
  }

  /** Write everything queued and wait until it is on its way to the disk (IO error if a write failed). */
  async flush(): Promise<void> {
    while (!this.failure && (this.inFlight || this.queued > 0)) {
      if (!this.inFlight) this.startWrite();
      await this.inFlight;
    }
    if (this.failure) throw this.failure;
  }

  private startWrite(): void {
    const bufs = this.queue.length <= MAX_IOV ? this.queue : this.queue.slice(0, MAX_IOV);
    this.queue = this.queue.length <= MAX_IOV ? [] : this.queue.slice(MAX_IOV);
    let n = 0;
    for (const b of bufs) n += b.length;
    this.queued -= n;
    this.inFlightBytes = n;
    const at = this.position;
    this.position += n;
    this.inFlight = writeAll(this.handle, bufs, at).then(
      () => this.written(),
      (e) => {
        this.failure = ioError(`cannot write ${this.target}`, e);
        this.queue = [];
        this.queued = 0;
        this.written();
      },
    );
  }

  private written(): void {
    this.inFlight = undefined;
    this.inFlightBytes = 0;
    if (this.durable && !this.failure && !this.syncing && this.position - this.synced >= SYNC_STEP_BYTES) {
      const upTo = this.position;
      this.syncing = this.handle.datasync().then(
        () => {
          this.synced = upTo;
          this.syncing = undefined;
        },
        (e) => {
          this.failure ??= ioError(`cannot write ${this.target}`, e);
          this.syncing = undefined;
        },
      );
    }
    if (!this.failure && (this.queued >= WRITE_BATCH_BYTES || this.queue.length >= MAX_IOV)) this.startWrite();
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Write what is queued, close the file (synced first when durable), then move it into place (OUTPUT_EXISTS, IO). */
  async commit(): Promise<void> {
    await this.flush();
    await this.syncing;
    if (this.failure) throw this.failure;
    await this.close(this.durable);
    try {
      if (this.force) await rename(this.path, this.target);
      else {
        try {
          await link(this.path, this.target);
          await unlink(this.path);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EEXIST") throw outputExists(this.target);
          // File systems without hard links: check, then rename (a narrow race instead of none).
          if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
          if (await exists(this.target)) throw outputExists(this.target);
          await rename(this.path, this.target);
        }
      }
    } catch (e) {
      await unlink(this.path).catch(() => {});
      if (e instanceof CmsError) throw e;
      throw ioError(`cannot move the result into place at ${this.target}`, e);
    }
  }

  /** Remove the temporary file (after the write in flight, if any, settles). Never throws. */
  async abort(): Promise<void> {
    if (!this.failure) this.failure = ioError(`cannot write ${this.target}`, new Error("aborted"));
    this.queue = [];
    this.queued = 0;
    await this.inFlight;
    await this.syncing;
    await this.close(false).catch(() => {});
    await unlink(this.path).catch(() => {});
  }

  /**
   * Close the file, first syncing it to the disk when `sync` (commit: the rename must not outrun the data).
   * fdatasync writes the data and the metadata needed to read it back (the size), not the timestamps.
   */
  private async close(sync = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (sync) await this.handle.datasync();
    } finally {
      await this.handle.close();
    }
  }
}

/** writev of all of `bufs` at `position`, continuing after short writes. */
async function writeAll(handle: FileHandle, bufs: Uint8Array[], position: number): Promise<void> {
  let left = bufs;
  let at = position;
  for (;;) {
    const { bytesWritten } = await handle.writev(left, at);
    at += bytesWritten;
    let skip = bytesWritten;
    let i = 0;
    while (i < left.length && skip >= left[i]!.length) skip -= left[i++]!.length;
    if (i === left.length) return;
    if (bytesWritten === 0) throw Object.assign(new Error("the disk accepted no bytes"), { code: "EIO" });
    left = [left[i]!.subarray(skip), ...left.slice(i + 1)];
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

export function outputExists(target: string): CmsError {
  return new CmsError("OUTPUT_EXISTS", `The output file ${target} already exists.`, {
    hint: "Choose another output name, remove the file, or pass --force to overwrite it.",
  });
}

export function ioError(what: string, cause: unknown): CmsError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new CmsError("IO", `${what[0]!.toUpperCase()}${what.slice(1)}${code ? ` (${code})` : ""}.`, {
    cause,
    hint: "Check that the folder exists, is writable and has enough free space.",
  });
}

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { type FileHandle, link, lstat, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { hostname } from "node:os";
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
 * Temporary files and folders carry the mark of the process that made them, `<host>-<pid>-<start>`: a tag of the
 * host name (8 hex digits of its SHA-256), the process id, and the process's start time (clock ticks since boot,
 * from /proc; 0 where there is none). A later run may then tell a stale file (its process is gone: killed with
 * SIGKILL, or the machine crashed) from one being written right now: the process with that id must be alive and,
 * on Linux, have started at that very time, so a reused process id is not mistaken for the writer. Files from
 * another host (a shared folder) are never judged.
 */
export interface ProcessMark {
  host: string;
  pid: number;
  start: string;
}

let ownMark: ProcessMark | undefined;

/** The mark of the current process (see above). */
export function processMark(): ProcessMark {
  ownMark ??= {
    host: createHash("sha256").update(hostname()).digest("hex").slice(0, 8),
    pid: process.pid,
    start: startTimeOf(process.pid) ?? "0",
  };
  return ownMark;
}

function markText(m: ProcessMark): string {
  return `${m.host}-${m.pid}-${m.start}`;
}

/** The start time of a process in clock ticks since boot (Linux /proc), or undefined when unknown. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields resume after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** True when the process that wrote a file with this mark may still be running (false only when surely gone). */
function maybeAlive(m: ProcessMark): boolean {
  try {
    process.kill(m.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false; // ESRCH: no such process
  }
  if (m.start === "0") return true;
  const now = startTimeOf(m.pid);
  return now === undefined || now === m.start;
}

/** `.<target>.sealpost-<mark>-<random>.tmp` beside `target`. */
export function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `.${basename(target)}.sealpost-${markText(processMark())}-${randomBytes(6).toString("hex")}.tmp`,
  );
}

/** `sealpost-<mark>-` prefix for a private temporary folder (mkdtemp adds six random characters). */
export function tempDirPrefix(): string {
  return `sealpost-${markText(processMark())}-`;
}

const TEMP_FILE = /^\..+\.sealpost-([0-9a-f]{8})-(\d+)-(\d+)-[0-9a-f]+\.tmp$/;
const TEMP_DIR = /^sealpost-([0-9a-f]{8})-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Removes the stale temporary files sealpost left in `dir` (`.<name>.sealpost-<mark>-<random>.tmp`, and with
 * `folders` also private temporary folders `sealpost-<mark>-XXXXXX`): only entries of this host, owned by this user,
 * whose process is gone (see ProcessMark); another running sealpost's files are left alone, as are names without a
 * mark. Returns the names removed (the caller says so). Never throws: a folder that cannot be read is skipped.
 */
export async function sweepStaleTemps(dir: string, options: { folders?: boolean } = {}): Promise<string[]> {
  const me = processMark();
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_FILE.exec(name) ?? (options.folders ? TEMP_DIR.exec(name) : null);
    if (!m || m[1] !== me.host) continue;
    const mark = { host: m[1], pid: Number(m[2]), start: m[3]! };
    if (mark.pid === me.pid && mark.start === me.start) continue;
    if (maybeAlive(mark)) continue;
    const path = join(dir, name);
    try {
      const st = await lstat(path);
      if (uid !== undefined && st.uid !== uid) continue;
      if (st.isDirectory() ? !TEMP_DIR.test(name) : !st.isFile()) continue;
      await rm(path, { recursive: st.isDirectory(), force: true });
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/**
 * A temporary file beside the target (`.<target>.sealpost-<mark>-<random>.tmp`, mode 0600, created exclusively) that
 * becomes the target only on `commit()`. `abort()` removes it; callers call exactly one of them.
 * Without `force`, an existing target gives OUTPUT_EXISTS both up front and at commit (no-clobber link). With
 * `force` only a regular file is replaced: anything else gives OUTPUT_NOT_FILE, checked (lstat) up front and again
 * right before the rename.
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

  /**
   * Create the temporary file for `target` (see checkOutputTarget: OUTPUT_EXISTS unless `force`, OUTPUT_NOT_FILE for
   * anything but a regular file; `durable` default true, see above).
   */
  static async create(target: string, force = false, durable = true): Promise<TempOutput> {
    await checkOutputTarget(target, force);
    const path = tempPathFor(target);
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
      if (this.force) {
        // Checked again right before the rename: what is there now must still be a regular file (or nothing).
        await checkOutputTarget(this.target, true);
        await rename(this.path, this.target);
      } else {
        try {
          await link(this.path, this.target);
          await unlink(this.path);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EEXIST") throw outputExists(this.target);
          // File systems without hard links: check, then rename (a narrow race instead of none).
          if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
          if ((await pathKind(this.target)) !== undefined) throw outputExists(this.target);
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

/** What a path names, without following a symbolic link: undefined when nothing is there. */
export async function pathKind(p: string): Promise<string | undefined> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(`cannot check the output path ${p}`, e);
  }
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "folder";
  if (st.isSymbolicLink()) return "symbolic link";
  if (st.isFIFO()) return "named pipe (FIFO)";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  if (st.isSocket()) return "socket";
  return "special file";
}

/**
 * Refuses an output path that must not be written: OUTPUT_NOT_FILE when something other than a regular file is
 * there (a folder, a symbolic link of any kind, a named pipe, a device, a socket), whether or not `force` is given;
 * OUTPUT_EXISTS when a regular file is there and `force` is not given. Uses lstat: a link is never followed.
 */
export async function checkOutputTarget(target: string, force: boolean): Promise<void> {
  const kind = await pathKind(target);
  if (kind === undefined) return;
  if (kind === "file") {
    if (!force) throw outputExists(target);
    return;
  }
  throw outputNotFile(target, kind);
}

export function outputNotFile(target: string, kind: string): CmsError {
  if (kind === "folder") {
    return new CmsError("OUTPUT_NOT_FILE", `The output ${target} is a folder, not a file.`, {
      hint: `Give a file name inside it, e.g. -o ${target.replace(/\/+$/, "")}/NAME.`,
      details: { path: target, kind },
    });
  }
  return new CmsError(
    "OUTPUT_NOT_FILE",
    `The output ${target} is a ${kind}, not a regular file: sealpost never writes to or replaces it, even with --force.`,
    { hint: "Choose a regular file name with -o (or -o - for stdout).", details: { path: target, kind } },
  );
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

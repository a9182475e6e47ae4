import { randomBytes } from "node:crypto";
import { type FileHandle, access, link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { CmsError } from "./errors.js";

/**
 * A temporary file beside the target (`.<target>.sealpost-<random>.tmp`, mode 0600, created exclusively) that
 * becomes the target only on `commit()`. `abort()` removes it; callers call exactly one of them.
 * Without `force`, an existing target gives OUTPUT_EXISTS both up front and at commit (no-clobber link).
 */
export class TempOutput {
  private closed = false;
  bytes = 0;

  private constructor(
    readonly target: string,
    readonly path: string,
    readonly handle: FileHandle,
    private readonly force: boolean,
  ) {}

  static async create(target: string, force = false): Promise<TempOutput> {
    if (!force && (await exists(target))) throw outputExists(target);
    const path = join(dirname(target), `.${basename(target)}.sealpost-${randomBytes(6).toString("hex")}.tmp`);
    let handle: FileHandle;
    try {
      handle = await open(path, "wx", 0o600);
    } catch (e) {
      throw ioError(`cannot create a temporary file in ${dirname(target)}`, e);
    }
    return new TempOutput(target, path, handle, force);
  }

  /** Append bytes (awaits the write: natural backpressure). */
  async write(b: Uint8Array): Promise<void> {
    let off = 0;
    try {
      while (off < b.length) {
        const { bytesWritten } = await this.handle.write(b, off, b.length - off);
        off += bytesWritten;
      }
    } catch (e) {
      throw ioError(`cannot write ${this.target}`, e);
    }
    this.bytes += b.length;
  }

  /** A Writable over the temp file (for pipeline); it closes the file when it ends. */
  writable(): Writable {
    this.closed = true;
    return this.handle.createWriteStream({ autoClose: true });
  }

  async commit(): Promise<void> {
    await this.close();
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

  async abort(): Promise<void> {
    await this.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
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

import { createReadStream, type ReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * Where sealed files live, addressed by their SHA-256. The interface lets object storage take over from the local
 * folder; callers never see paths except the temporary ones they write uploads into.
 */
export interface FileStore {
  /** A fresh temporary path for an incoming upload (under the store's tmp folder, swept at start). */
  tempPath(): string;
  /** Makes a fully written temporary file the stored file `sha256` (fsync, then atomic rename; a duplicate is dropped). */
  commit(tempPath: string, sha256: string): Promise<void>;
  /** Size in bytes, or undefined when absent. */
  size(sha256: string): Promise<number | undefined>;
  /** A read stream over [start, end] (inclusive), or the whole file. */
  read(sha256: string, range?: { start: number; end: number }): ReadStream;
  remove(sha256: string): Promise<void>;
  /**
   * Removes temporary files, and stored files not in `keep`, last written at least `graceMs` ago (default 0: all).
   * With several instances on one store the grace keeps another instance's upload in progress, and a file it has
   * just stored but not yet recorded, out of reach. Returns how many of each were removed.
   */
  sweep(
    keep: (sha256: string) => Promise<boolean>,
    options?: { graceMs?: number; now?: Date },
  ): Promise<{ temp: number; orphans: number }>;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

/** The local folder store: `<data>/files/<sha256>` and `<data>/tmp/*`. */
export class LocalFileStore implements FileStore {
  readonly filesDir: string;
  readonly tmpDir: string;

  constructor(dataDir: string) {
    this.filesDir = join(dataDir, "files");
    this.tmpDir = join(dataDir, "tmp");
  }

  async ensure(): Promise<void> {
    await mkdir(this.filesDir, { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  private path(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${sha256}`);
    return join(this.filesDir, sha256);
  }

  tempPath(): string {
    return join(this.tmpDir, `upload-${randomBytes(12).toString("hex")}.part`);
  }

  async commit(tempPath: string, sha256: string): Promise<void> {
    const fh = await open(tempPath, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tempPath, this.path(sha256));
    const dir = await open(this.filesDir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(sha256))).size;
    } catch {
      return undefined;
    }
  }

  read(sha256: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.path(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  async sweep(
    keep: (sha256: string) => Promise<boolean>,
    options: { graceMs?: number; now?: Date } = {},
  ): Promise<{ temp: number; orphans: number }> {
    await this.ensure();
    const cutoff = (options.now ?? new Date()).getTime() - (options.graceMs ?? 0);
    const old = async (p: string) => {
      try {
        return (await stat(p)).mtimeMs <= cutoff;
      } catch {
        return false;
      }
    };
    let temp = 0;
    let orphans = 0;
    for (const f of await readdir(this.tmpDir)) {
      if (!(await old(join(this.tmpDir, f)))) continue;
      await rm(join(this.tmpDir, f), { force: true, recursive: true });
      temp++;
    }
    for (const f of await readdir(this.filesDir)) {
      if (!(await old(join(this.filesDir, f)))) continue;
      if (!SHA256_RE.test(f) || !(await keep(f))) {
        await rm(join(this.filesDir, f), { force: true, recursive: true });
        orphans++;
      }
    }
    return { temp, orphans };
  }
}

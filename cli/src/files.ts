import { createReadStream, createWriteStream, readdirSync, rmSync } from "node:fs";
import { link, mkdtemp, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { checkOutputTarget, outputNotFile, pathKind, sweepStaleTemps, tempDirPrefix, tempPathFor } from "@sealpost/cms";
import { CliError } from "./errors.js";

/**
 * File plumbing of the CLI: refusing to overwrite, writing through a temporary file (mode 0600) that is renamed
 * into place only on success, stdin spooling and copying verified content to stdout.
 */

/** The size of an input file; CliError IO (with a hint) when it is missing, unreadable or not a regular file. */
export async function inputSize(path: string, what = "the input"): Promise<number> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
    return st.size;
  } catch (e) {
    throw ioError(`Cannot read ${what} ${path}`, e);
  }
}

/** True when `path` names stdin/stdout ("-"). */
export function isStdio(path: string | undefined): boolean {
  return path === "-";
}

/**
 * Checks an output path before anything is done (lstat: links are not followed): nothing there is fine; a regular
 * file is replaced only with `force` (CliError OUTPUT_EXISTS otherwise); anything else (a folder, a symbolic link, a
 * named pipe, a device, a socket) is never written to or replaced, even with `force` (CmsError OUTPUT_NOT_FILE).
 */
export async function assertCanWrite(path: string, force: boolean): Promise<void> {
  const kind = await pathKind(path);
  if (kind === undefined) return;
  if (kind !== "file") throw outputNotFile(path, kind);
  if (force) return;
  throw new CliError("OUTPUT_EXISTS", `The output file ${path} already exists; it was not overwritten.`, {
    hint: "Add --force to replace it, or choose another name with -o.",
    details: { path },
  });
}

/**
 * Writes `path` through a temporary file beside it (created exclusively, mode 0600): `write` fills the stream and
 * must end it; on success the temp file becomes `path` (without --force by a hard link, which fails if `path`
 * appeared meanwhile; with --force by rename); on failure the temp file is removed and nothing is left.
 */
export async function writeAtomically<T>(
  path: string,
  force: boolean,
  write: (out: Writable) => Promise<T>,
): Promise<T> {
  await assertCanWrite(path, force);
  const temp = tempPathFor(path);
  const ws = createWriteStream(temp, { flags: "wx", mode: 0o600 });
  try {
    const result = await write(ws);
    if (!ws.writableFinished) await finished(ws);
    if (force) {
      await checkOutputTarget(path, true); // again right before the rename: still a regular file, or nothing
      await rename(temp, path);
    } else {
      try {
        await link(temp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") await assertCanWrite(path, false);
        throw e;
      }
      await unlink(temp);
    }
    return result;
  } catch (e) {
    ws.destroy();
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * A private temporary folder (mode 0700, `sealpost-<mark>-XXXXXX` in the system temp folder) removed by the returned
 * cleanup (or on interrupt), e.g. for content bound for stdout. Stale folders of earlier runs that were killed are
 * removed first (see sweepStaleTemps); `warn` hears about them.
 */
export async function privateTempDir(
  warn?: (text: string) => void,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  reportSwept(tmpdir(), await sweepStaleTemps(tmpdir(), { folders: true }), warn);
  const dir = await mkdtemp(join(tmpdir(), tempDirPrefix()));
  const forget = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    cleanup: async () => {
      forget();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function reportSwept(dir: string, removed: string[], warn: ((text: string) => void) | undefined): void {
  if (removed.length === 0 || !warn) return;
  warn(
    `removed ${removed.length} stale temporary ${removed.length === 1 ? "file" : "files"} left by an interrupted sealpost run in ${dir}: ${removed.join(", ")}`,
  );
}

const interruptCleanups = new Set<() => void>();

/**
 * Registers a synchronous cleanup to run if the process is interrupted (SIGINT/SIGTERM, see main.ts); returns a
 * function that unregisters it.
 */
export function onInterrupt(cleanup: () => void): () => void {
  interruptCleanups.add(cleanup);
  return () => interruptCleanups.delete(cleanup);
}

/** Runs every registered interrupt cleanup (errors ignored: the process is about to exit). */
export function runInterruptCleanups(): void {
  for (const cleanup of interruptCleanups) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
  interruptCleanups.clear();
}

/**
 * Before writing `outPath`: removes the stale temporary files that killed sealpost runs left beside it (see
 * sweepStaleTemps: never those of a sealpost still running), telling `warn`; then guards the temporary files that
 * this run creates beside `outPath` (`.<name>.*.tmp`): those that appear after this call are removed if the process
 * is interrupted. Returns the unregister function.
 */
export async function guardTempFiles(outPath: string, warn?: (text: string) => void): Promise<() => void> {
  const dir = dirname(outPath);
  reportSwept(resolve(dir), await sweepStaleTemps(dir), warn);
  const prefix = `.${basename(outPath)}.`;
  const isTemp = (n: string) => n.startsWith(prefix) && n.endsWith(".tmp");
  const before = new Set((await readdir(dir).catch(() => [] as string[])).filter(isTemp));
  return onInterrupt(() => {
    for (const n of readdirSync(dir)) if (isTemp(n) && !before.has(n)) rmSync(join(dir, n), { force: true });
  });
}

/** Copies a file to stdout (stdout is left open). */
export async function copyFileToStdout(path: string, stdout: Writable = process.stdout): Promise<void> {
  await pipeline(createReadStream(path), stdout, { end: false });
}

/**
 * A writable that forwards to stdout without ever ending stdout itself (libraries end the stream they are given).
 * Await `done` after the writer ended it.
 */
export function stdoutSink(stdout: Writable = process.stdout): { stream: Writable; done: Promise<void> } {
  const pass = new PassThrough();
  const done = pipeline(pass, stdout, { end: false });
  return { stream: pass, done };
}

/** Spools stdin to a file in a private temp folder (for library calls that need a path). */
export async function spoolStdin(
  stdin: Readable = process.stdin,
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const t = await privateTempDir();
  const path = join(t.dir, "stdin");
  try {
    await pipeline(stdin, createWriteStream(path, { flags: "wx", mode: 0o600 }));
  } catch (e) {
    await t.cleanup();
    throw ioError("Cannot read the input from stdin", e);
  }
  return { path, cleanup: t.cleanup };
}

/** A CliError IO for a failed file operation (the errno code in the message, never file content), with a hint. */
export function ioError(what: string, cause: unknown): CliError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  const hint = code ? IO_HINTS[code] : undefined;
  return new CliError("IO", `${what}${code ? ` (${code})` : ""}.`, hint ? { cause, hint } : { cause });
}

const IO_HINTS: Record<string, string> = {
  ENOENT: "Check the path: the file or folder does not exist.",
  EACCES: "Check the file's permissions (ls -l), or run as the user who owns it.",
  EPERM: "Check the file's permissions (ls -l), or run as the user who owns it.",
  EISDIR: "Give a file, not a folder.",
  ENOTDIR: "A part of the path is not a folder.",
  ENOSPC: "The disk is full: free some space and try again.",
  EDQUOT: "Your disk quota is used up: free some space and try again.",
  EROFS: "The file system is read-only: write somewhere else with -o.",
};

/** The first `max` bytes of a file (default 64 KiB: enough to tell PEM from DER and see PEM labels). */
export async function readHead(path: string, what: string, max = 65536): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    throw ioError(what, e);
  } finally {
    await fh?.close();
  }
}

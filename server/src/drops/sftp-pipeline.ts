import type { Readable } from "node:stream";
import type { SFTPWrapper } from "ssh2";

/**
 * Pipelined SFTP transfers. An SFTP read or write is one request and one reply; issuing them one at a time (what
 * stream pipes do) caps a transfer at one chunk per round trip. These keep `depth` requests in flight, in file
 * order, so throughput approaches what the SSH cipher allows.
 */

/** Bytes per request (OpenSSH accepts up to 256 KiB; ssh2 splits requests for servers that take less). */
export const CHUNK_BYTES = 128 * 1024;
/** Requests kept in flight. */
export const PIPELINE_DEPTH = 32;

/**
 * Whether the channel still takes requests. ssh2 answers requests pending when a connection dies with an error,
 * but a request sent after that would wait forever, so every request checks this first.
 */
function check(sftp: SFTPWrapper): void {
  if ((sftp as unknown as { readable?: boolean }).readable === false) throw new Error("the SFTP connection closed");
}

function openHandle(sftp: SFTPWrapper, path: string, flags: "r" | "w"): Promise<Buffer> {
  check(sftp);
  return new Promise((resolve, reject) =>
    sftp.open(path, flags, (err, handle) => (err ? reject(err) : resolve(handle))),
  );
}

function closeHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  check(sftp);
  return new Promise((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve())));
}

/**
 * Closes a handle after a failure without waiting: on a connection that is gone the close request is never
 * answered, and the connection's end releases the handle anyway.
 */
function abandon(sftp: SFTPWrapper, handle: Buffer): void {
  try {
    check(sftp);
    sftp.close(handle, () => {});
  } catch {
    // the channel is already closed
  }
}

function readAt(sftp: SFTPWrapper, handle: Buffer, position: number, length: number): Promise<Buffer> {
  check(sftp);
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    sftp.read(handle, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n))));
  });
}

function writeAt(sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number): Promise<void> {
  check(sftp);
  return new Promise((resolve, reject) =>
    sftp.write(handle, data, 0, data.length, position, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Reads the first `size` bytes of `path` in order, handing each piece to `sink` (awaited: it applies
 * backpressure). Short replies are completed before later pieces are handed on. Never requests a byte past
 * `size`. Fails when the file ends before `size` bytes, unless `untilEof`: then the end of the file ends the read
 * (the caller counts what arrived).
 */
export async function pipelinedRead(
  sftp: SFTPWrapper,
  path: string,
  size: number,
  sink: (piece: Buffer) => Promise<void> | void,
  untilEof = false,
): Promise<void> {
  const handle = await openHandle(sftp, path, "r");
  const pending: { position: number; length: number; reply: Promise<Buffer> }[] = [];
  let next = 0;
  const topUp = () => {
    while (pending.length < PIPELINE_DEPTH && next < size) {
      const length = Math.min(CHUNK_BYTES, size - next);
      const reply = readAt(sftp, handle, next, length);
      reply.catch(() => {}); // observed when its turn comes
      pending.push({ position: next, length, reply });
      next += length;
    }
  };
  try {
    topUp();
    while (pending.length > 0) {
      const { position, length, reply } = pending.shift()!;
      let piece = await reply;
      let got = piece.length;
      if (got > 0) await sink(piece);
      while (got < length) {
        piece = await readAt(sftp, handle, position + got, length - got);
        if (piece.length === 0) {
          if (!untilEof) throw new Error(`the file ended after ${position + got} of ${size} bytes`);
          await Promise.allSettled(pending.map((p) => p.reply));
          pending.length = 0;
          next = size; // nothing more to ask for
          break;
        }
        got += piece.length;
        await sink(piece);
      }
      topUp();
    }
  } catch (e) {
    await Promise.allSettled(pending.map((p) => p.reply));
    abandon(sftp, handle);
    throw e;
  }
  await closeHandle(sftp, handle);
}

/**
 * Writes `source` to `path` (created or truncated), keeping up to PIPELINE_DEPTH writes in flight; `onWritten` is
 * called as each write is acknowledged. Returns bytes written.
 */
export async function pipelinedWrite(
  sftp: SFTPWrapper,
  path: string,
  source: Readable,
  onWritten: () => void = () => {},
): Promise<number> {
  const handle = await openHandle(sftp, path, "w");
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let position = 0;
  try {
    for await (const chunk of source) {
      const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      for (let off = 0; off < data.length; off += CHUNK_BYTES) {
        if (failure) throw failure;
        while (inflight.size >= PIPELINE_DEPTH) await Promise.race(inflight);
        if (failure) throw failure;
        const piece = data.subarray(off, Math.min(off + CHUNK_BYTES, data.length));
        const p: Promise<void> = writeAt(sftp, handle, piece, position).then(
          () => {
            inflight.delete(p);
            onWritten();
          },
          (e) => {
            inflight.delete(p);
            failure ??= e;
          },
        );
        inflight.add(p);
        position += piece.length;
      }
    }
    await Promise.all(inflight);
    if (failure) throw failure;
  } catch (e) {
    source.destroy();
    await Promise.allSettled(inflight);
    abandon(sftp, handle);
    throw e;
  }
  await closeHandle(sftp, handle);
  return position;
}

/** One listed name: a regular file or a folder (links and others are left out by readDirCapped). */
export interface DirEntry {
  name: string;
  size: number;
  type: "file" | "dir";
}

/**
 * Lists `dir` with OPENDIR/READDIR, one reply at a time (`onReply` after each), and stops after `maxEntries` names
 * have arrived (`truncated`: there may be more). "." and ".." are not counted; links and other kinds are counted
 * but not returned.
 */
export async function readDirCapped(
  sftp: SFTPWrapper,
  dir: string,
  maxEntries: number,
  onReply: () => void = () => {},
): Promise<{ entries: DirEntry[]; truncated: boolean }> {
  check(sftp);
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.opendir(dir, (err, h) => (err ? reject(err) : resolve(h))),
  );
  const entries: DirEntry[] = [];
  let seen = 0;
  let truncated = false;
  try {
    for (;;) {
      check(sftp);
      const list = await new Promise<{ filename: string; attrs: { mode: number; size: number } }[] | undefined>(
        (resolve, reject) =>
          sftp.readdir(handle, (err, l) => {
            if (err && (err as { code?: number }).code === 1)
              resolve(undefined); // SSH_FX_EOF
            else if (err) reject(err);
            else resolve(l as unknown as { filename: string; attrs: { mode: number; size: number } }[]);
          }),
      );
      onReply();
      if (!list) break;
      for (const e of list) {
        if (seen >= maxEntries) {
          truncated = true;
          break;
        }
        seen += 1;
        const kind = e.attrs.mode & 0o170000;
        if (kind === 0o100000) entries.push({ name: e.filename, size: e.attrs.size, type: "file" });
        else if (kind === 0o040000) entries.push({ name: e.filename, size: e.attrs.size, type: "dir" });
      }
      if (truncated) break;
    }
  } catch (e) {
    abandon(sftp, handle);
    throw e;
  }
  abandon(sftp, handle);
  return { entries, truncated };
}

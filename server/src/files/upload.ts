import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type InspectResult, inspectCms } from "../crypto.js";
import { ServerError } from "../errors.js";
import { ChunkFeed } from "./chunk-feed.js";
import type { FileStore } from "./store.js";

/** A fully received upload waiting in a temporary file. */
export interface IncomingFile {
  tempPath: string;
  sha256: string;
  size: number;
  /**
   * The file's CMS envelope as read while it was received (receiveToTemp), or why it could not be read; absent when
   * the file was not read on its way in (acceptFile then reads it from `tempPath`).
   */
  envelope?: { ok: true; info: InspectResult } | { ok: false; error: unknown };
}

/** Reads a CMS envelope's structure from a stream of its bytes (default: inspect of @sealpost/cms). */
export type EnvelopeReader = (bytes: AsyncIterable<Uint8Array>) => Promise<InspectResult>;

/**
 * Streams a request body into a fresh temporary file of the store in one pass: as the bytes arrive they are
 * counted, hashed (SHA-256), written, and read as a CMS envelope (`readEnvelope`, default inspect; its result or
 * failure is returned as `envelope`, for acceptFile to check; the file is never read a second time). Refuses more
 * than `maxBytes` (PAYLOAD_TOO_LARGE), and a body that ends early or is aborted (UPLOAD_INCOMPLETE: fewer bytes than
 * `expectedBytes` when the client declared a length; or, with `progress`, fewer than `progress.minBytes` arrived in
 * some `progress.intervalMs`: details.reason "too_slow"). On any failure the temporary file is removed; on success the
 * caller owns it (acceptFile moves or removes it). A file that is not CMS is still received whole (its hash is
 * part of the record of the refusal).
 */
export async function receiveToTemp(
  store: FileStore,
  body: Readable,
  options: {
    maxBytes: number;
    expectedBytes?: number;
    readEnvelope?: EnvelopeReader;
    progress?: { minBytes: number; intervalMs: number };
  },
): Promise<IncomingFile> {
  if (options.expectedBytes !== undefined && options.expectedBytes > options.maxBytes) {
    throw tooLarge(options.maxBytes);
  }
  const tempPath = store.tempPath();
  const hash = createHash("sha256");
  let size = 0;
  const feed = new ChunkFeed();
  const reading = (options.readEnvelope ?? inspectCms)(feed)
    .then(
      (info): IncomingFile["envelope"] => ({ ok: true, info }),
      (error: unknown): IncomingFile["envelope"] => ({ ok: false, error }),
    )
    .finally(() => feed.stop());
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > options.maxBytes) return cb(tooLarge(options.maxBytes));
      hash.update(chunk);
      // The envelope reader takes the chunk before the next one is read (at most one chunk waits for it).
      if (feed.stopped) cb(null, chunk);
      else feed.push(chunk).then(() => cb(null, chunk), cb);
    },
    flush(cb) {
      feed.end();
      cb();
    },
  });
  let aborted = false;
  const onAbort = () => {
    aborted = true;
  };
  body.once("aborted", onAbort);
  const progress = options.progress;
  let mark = 0;
  const watch =
    progress &&
    setInterval(() => {
      if (size - mark < progress.minBytes) meter.destroy(tooSlow(size, progress));
      mark = size;
    }, progress.intervalMs);
  try {
    await pipeline(body, meter, createWriteStream(tempPath, { flags: "wx", mode: 0o600 }));
    if (aborted || (options.expectedBytes !== undefined && size !== options.expectedBytes)) {
      throw new ServerError("UPLOAD_INCOMPLETE", undefined, {
        details: { received: size, declared: options.expectedBytes },
      });
    }
  } catch (e) {
    feed.fail(e);
    await reading;
    await rm(tempPath, { force: true });
    if (e instanceof ServerError) throw e;
    throw new ServerError("UPLOAD_INCOMPLETE", undefined, { cause: e, details: { received: size } });
  } finally {
    clearInterval(watch);
    body.off("aborted", onAbort);
  }
  return { tempPath, sha256: hash.digest("hex"), size, envelope: await reading };
}

function tooSlow(received: number, p: { minBytes: number; intervalMs: number }): ServerError {
  return new ServerError(
    "UPLOAD_INCOMPLETE",
    `The upload was too slow: fewer than ${p.minBytes} bytes arrived in ${p.intervalMs} ms; nothing was recorded.`,
    {
      hint: "Upload again over a faster or steadier connection.",
      details: { reason: "too_slow", received, minBytes: p.minBytes, intervalMs: p.intervalMs },
    },
  );
}

function tooLarge(max: number): ServerError {
  return new ServerError("PAYLOAD_TOO_LARGE", `The file is larger than the server accepts (${max} bytes).`, {
    details: { maxBytes: max },
  });
}

/** A parsed single `Range: bytes=...` header: inclusive [start, end], "unsatisfiable", or undefined (whole file). */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // malformed or multi-range: ignore (RFC 9110 allows)
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

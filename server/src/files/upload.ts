import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ServerError } from "../errors.js";
import type { FileStore } from "./store.js";

/** A fully received upload waiting in a temporary file. */
export interface IncomingFile {
  tempPath: string;
  sha256: string;
  size: number;
}

/**
 * Streams a request body into a fresh temporary file of the store, hashing as it arrives. Refuses more than
 * `maxBytes` (PAYLOAD_TOO_LARGE), and a body that ends early or is aborted (UPLOAD_INCOMPLETE: fewer bytes than
 * `expectedBytes` when the client declared a length). On any failure the temporary file is removed; on success the
 * caller owns it (acceptFile moves or removes it).
 */
export async function receiveToTemp(
  store: FileStore,
  body: Readable,
  options: { maxBytes: number; expectedBytes?: number },
): Promise<IncomingFile> {
  if (options.expectedBytes !== undefined && options.expectedBytes > options.maxBytes) {
    throw tooLarge(options.maxBytes);
  }
  const tempPath = store.tempPath();
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > options.maxBytes) return cb(tooLarge(options.maxBytes));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  let aborted = false;
  const onAbort = () => {
    aborted = true;
  };
  body.once("aborted", onAbort);
  try {
    await pipeline(body, meter, createWriteStream(tempPath, { flags: "wx", mode: 0o600 }));
    if (aborted || (options.expectedBytes !== undefined && size !== options.expectedBytes)) {
      throw new ServerError("UPLOAD_INCOMPLETE", undefined, {
        details: { received: size, declared: options.expectedBytes },
      });
    }
  } catch (e) {
    await rm(tempPath, { force: true });
    if (e instanceof ServerError) throw e;
    throw new ServerError("UPLOAD_INCOMPLETE", undefined, { cause: e, details: { received: size } });
  } finally {
    body.off("aborted", onAbort);
  }
  return { tempPath, sha256: hash.digest("hex"), size };
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

/**
 * Node helpers for @sealpost/client: files as upload bodies, downloads into files, and a login signer over a
 * node:crypto private key. The main entry stays free of node: imports so that it runs in browsers.
 */
import { createHash, type KeyObject, sign } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeWebStream } from "node:stream/web";
import type { FileDownload, LoginSigner } from "./client.js";

/**
 * A file as an upload body: a web stream of its bytes and its size (pass both to client.upload). `onProgress` hears
 * the bytes read so far.
 */
export async function fileBody(
  path: string,
  onProgress?: (bytes: number) => void,
): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
  const size = (await stat(path)).size;
  let sent = 0;
  const source = createReadStream(path, { highWaterMark: 1024 * 1024 });
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      sent += chunk.length;
      onProgress?.(sent);
      cb(null, chunk);
    },
  });
  source.on("error", (e) => meter.destroy(e));
  return { body: Readable.toWeb(source.pipe(meter)) as unknown as ReadableStream<Uint8Array>, size };
}

/** A Node readable over a download's web stream (for pipeline()). */
export function nodeStreamOf(download: Pick<FileDownload, "body">): Readable {
  return Readable.fromWeb(download.body as unknown as NodeWebStream<Uint8Array>);
}

/**
 * Writes a download into a new file `path` (mode 0600, refused if it exists) and returns its SHA-256 and size.
 * Checks nothing: compare `sha256` with `download.sha256` yourself.
 */
export async function saveDownload(download: FileDownload, path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      size += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(nodeStreamOf(download), meter, createWriteStream(path, { flags: "wx", mode: 0o600 }));
  return { sha256: hash.digest("hex"), size };
}

/** A login signer over a private key (SHA-256 with RSA PKCS#1 v1.5 or ECDSA, as the key is). */
export function keySigner(privateKey: KeyObject, certSha256: string): LoginSigner {
  return { certSha256, sign: (data) => sign("sha256", data, privateKey).toString("base64") };
}

/**
 * Node helpers for @sealpost/client: files as upload bodies, downloads into files, and a login signer over a
 * node:crypto private key. The main entry stays free of node: imports so that it runs in browsers.
 */
import { createHash, type KeyObject, sign } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
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

/**
 * A fetch for ClientOptions.fetch over node:http with `agent` (keep-alive sockets), for plain http:// on loopback
 * only and buffered bodies (strings and bytes, not streams): what a load generator needs, at a fraction of the CPU
 * time of Node 20's fetch per request. Use the default fetch for file uploads and downloads.
 */
export function httpFetch(agent: http.Agent): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      if (u.protocol !== "http:") return reject(new TypeError(`httpFetch speaks plain http:// only, not ${u.origin}`));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      let data: Buffer | undefined;
      if (typeof init.body === "string") data = Buffer.from(init.body, "utf8");
      else if (init.body instanceof Uint8Array) data = Buffer.from(init.body);
      else if (init.body !== undefined && init.body !== null) {
        return reject(new TypeError("httpFetch sends string or byte bodies only"));
      }
      if (data) headers["content-length"] = String(data.length);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method: init.method ?? "GET", agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined) for (const one of [v].flat()) h.append(k, one);
            }
            const status = res.statusCode ?? 0;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, statusText: res.statusMessage ?? "", headers: h }));
          });
        },
      );
      req.on("error", reject);
      init.signal?.addEventListener("abort", () => req.destroy(new DOMException("aborted", "AbortError")));
      req.end(data);
    });
}

/**
 * A fetch for ClientOptions.fetch over node:https and node:http that trusts `ca` (PEM: one or more CA certificates,
 * e.g. an agency's internal CA) for https:// servers besides Node's own roots. Request bodies may be strings, bytes
 * or web streams (streamed with backpressure, never buffered); the response body is a web stream. Redirects are not
 * followed (the 3xx response is returned). Certificate and hostname checks stay on.
 */
export function caFetch(ca: string | Buffer): typeof fetch {
  const agent = new https.Agent({ keepAlive: true, ca: [...rootCertificates, ca.toString()] });
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const body = init.body;
      let data: Buffer | undefined;
      if (typeof body === "string") data = Buffer.from(body, "utf8");
      else if (body instanceof Uint8Array) data = Buffer.from(body);
      else if (body !== undefined && body !== null && !(body instanceof ReadableStream)) {
        return reject(new TypeError("caFetch sends string, byte or web stream bodies only"));
      }
      if (data) headers["content-length"] = String(data.length);
      const lib = u.protocol === "https:" ? https : http;
      const req = lib.request(
        {
          host: u.hostname.replace(/^\[|\]$/g, ""),
          port: u.port,
          path: u.pathname + u.search,
          method: init.method ?? "GET",
          headers,
          ...(u.protocol === "https:" ? { agent, servername: isIpHost(u.hostname) ? undefined : u.hostname } : {}),
        },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) for (const one of [v].flat()) h.append(k, one);
          }
          const status = res.statusCode ?? 0;
          const noBody = status === 204 || status === 304 || init.method === "HEAD";
          if (noBody) res.resume();
          resolve(
            new Response(noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? "",
              headers: h,
            }),
          );
        },
      );
      req.on("error", (e) => reject(new TypeError("fetch failed", { cause: e })));
      init.signal?.addEventListener("abort", () => req.destroy(new DOMException("aborted", "AbortError")));
      if (body instanceof ReadableStream) {
        Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>)
          .on("error", (e) => req.destroy(e))
          .pipe(req);
      } else {
        req.end(data);
      }
    });
}

function isIpHost(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

import { request } from "node:http";

/** Limits of one plain-HTTP exchange (CRL download or OCSP POST). */
export interface HttpLimits {
  timeoutMs: number;
  maxBytes: number;
}

/**
 * One HTTP request over plain http:// (CRLs and OCSP answers are signed; RFC 5280 and 6960 use plain HTTP), with a
 * time limit for the whole exchange and a size limit on the body. Resolves with the body, or rejects with an Error
 * whose message names the URL and the reason.
 */
export function httpExchange(
  url: string,
  limits: HttpLimits,
  body?: { contentType: string; data: Uint8Array },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new Error(`${url} is not a valid URL`));
      return;
    }
    if (u.protocol !== "http:") {
      reject(new Error(`${url} is not an http:// URL`));
      return;
    }
    const req = request(
      u,
      {
        method: body ? "POST" : "GET",
        headers: body ? { "content-type": body.contentType, "content-length": body.data.length } : {},
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          finish(new Error(`${url} answered HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > limits.maxBytes) {
            req.destroy();
            finish(new Error(`${url} sent more than ${limits.maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => finish(undefined, new Uint8Array(Buffer.concat(chunks))));
        res.on("error", (e) => finish(e));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`${url} did not answer within ${limits.timeoutMs} ms`));
    }, limits.timeoutMs);
    let done = false;
    function finish(err?: Error, data?: Uint8Array): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(data as Uint8Array);
    }
    req.on("error", (e) => finish(new Error(`${url} could not be reached (${e.message})`)));
    if (body) req.end(Buffer.from(body.data));
    else req.end();
  });
}

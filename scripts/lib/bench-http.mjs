// A lean JSON-over-HTTP client for load generation. The load generator shares the machine's cores with the server it
// measures, so it uses node:http with a keep-alive agent (one socket per concurrent client) rather than fetch, whose
// per-request overhead in Node 20 costs the server CPU time and, with 50 clients, left single requests waiting for
// seconds on the client side. Logins, registration and file transfers use the CLI's own client (RemoteClient).
import http from "node:http";

/** A keep-alive agent for `sockets` concurrent clients (default 50). Call `destroy()` when done. */
export function loadAgent(sockets = 50) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

/** An error answer of the server: `code` is its catalogue code (or HTTP_<status> without a JSON error body). */
export class HttpStatusError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/**
 * `json(method, path, body?)` for one bearer token against `base` (an http:// URL): sends `body` as JSON, resolves
 * the parsed answer of a 2xx response (undefined when empty), rejects with HttpStatusError otherwise, or with the
 * socket error.
 */
export function jsonClient(base, token, agent) {
  const u = new URL(base);
  if (u.protocol !== "http:") throw new Error(`the load client speaks plain HTTP on loopback only, not ${base}`);
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
      if (data) Object.assign(headers, { "content-type": "application/json", "content-length": data.length });
      const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            return reject(new HttpStatusError(res.statusCode, "BAD_RESPONSE", "the answer is not JSON"));
          }
          if (res.statusCode >= 200 && res.statusCode < 300) return resolve(parsed);
          const e = parsed?.error;
          reject(
            new HttpStatusError(res.statusCode, e?.code ?? `HTTP_${res.statusCode}`, e?.message ?? text.slice(0, 200)),
          );
        });
      });
      req.on("error", reject);
      req.end(data);
    });
}

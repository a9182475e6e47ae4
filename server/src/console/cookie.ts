import type { FastifyRequest } from "fastify";

/**
 * The console session cookie. Under TLS it is `__Host-sealpost` (the browser then insists on Secure, Path=/ and no
 * Domain); over plain HTTP (loopback only, see startServer) `sealpost`. Always HttpOnly and SameSite=Strict.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-sealpost" : "sealpost";
}

const TOKEN = /^[A-Za-z0-9_-]{20,100}$/;

/** The session token in the request's Cookie header (the name that fits the connection), or undefined. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== "string") return undefined;
  const name = sessionCookieName(request.protocol === "https");
  for (const part of header.slice(0, 8192).split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return TOKEN.test(v) ? v : undefined;
    }
  }
  return undefined;
}

/** A Set-Cookie value for `token`, valid `maxAgeSeconds`; an empty token with 0 clears the cookie. */
export function sessionCookie(token: string, secure: boolean, maxAgeSeconds: number): string {
  return [
    `${sessionCookieName(secure)}=${token}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

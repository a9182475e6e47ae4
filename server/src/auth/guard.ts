import type { FastifyInstance, FastifyRequest } from "fastify";
import { sessionCookieOf } from "../console/cookie.js";
import type { SessionChecker } from "../console/service.js";
import type { Actor } from "../context.js";
import { ServerError } from "../errors.js";
import { normaliseIp } from "../registry/cidr.js";

declare module "fastify" {
  interface FastifyRequest {
    actor: Actor | undefined;
    bearer: string | undefined;
  }
}

/** What the guard needs from the auth domain: the actor behind a bearer token (see AuthService.actorForToken). */
export interface TokenResolver {
  actorForToken(token: string, source: string): Promise<Actor | undefined>;
  /** The web console's sessions; without it only bearer tokens are accepted. */
  readonly sessions?: SessionChecker | undefined;
}

/** The client's address as the socket sees it (no proxy headers are trusted). */
export function sourceOf(request: FastifyRequest): string {
  return normaliseIp(request.ip);
}

/**
 * Authentication for the routes registered in `app`'s scope (call it inside a plugin): an `Authorization: Bearer <token>` header
 * or, without one, the web console's session cookie is required on every request (401 UNAUTHENTICATED otherwise,
 * checked in onRequest, before any body is read). A cookie session must be live (idle timeout) and a
 * state-changing request (not GET/HEAD/OPTIONS, and a file download, which moves the case on) must carry its CSRF token (403 FORBIDDEN otherwise); a bearer
 * header is never sent by a browser on its own, so it needs none. A source address outside the agency's
 * allow-list gets 403 SOURCE_NOT_ALLOWED.
 */
/**
 * File downloads: recorded GETs, so a cookie session needs its CSRF token there too. The console saves a file by
 * navigating to it (the browser streams it to disk), which cannot send a header: there the token may come as the
 * query parameter `csrf` instead.
 */
const DOWNLOAD = /^\/v1\/cases\/[^/?]+\/(?:payload|result)(?:\?|$)/;

/** The CSRF token of a request: the X-Sealpost-Csrf header, or on a file download the `csrf` query parameter. */
function csrfOf(request: FastifyRequest, download: boolean): string | undefined {
  const h = request.headers["x-sealpost-csrf"];
  if (typeof h === "string") return h;
  if (!download) return undefined;
  const q = request.url.indexOf("?");
  return q < 0 ? undefined : (new URLSearchParams(request.url.slice(q + 1)).get("csrf") ?? undefined);
}

export function requireAuth(app: FastifyInstance, tokens: TokenResolver): void {
  app.addHook("onRequest", async (request: FastifyRequest) => {
    const h = request.headers.authorization;
    const m = typeof h === "string" ? /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(h) : null;
    let token = m?.[1];
    if (token === undefined && h === undefined && tokens.sessions) {
      const cookie = sessionCookieOf(request);
      const download = DOWNLOAD.test(request.url);
      const live =
        cookie !== undefined &&
        (await tokens.sessions.checkSession(cookie, {
          stateChanging: !["GET", "HEAD", "OPTIONS"].includes(request.method) || download,
          csrf: csrfOf(request, download),
        }));
      if (live) token = cookie;
    }
    const actor = token ? await tokens.actorForToken(token, sourceOf(request)) : undefined;
    if (!actor)
      throw new ServerError("UNAUTHENTICATED", undefined, { hint: "Run: sealpost login --server URL --key KEYSTORE" });
    request.actor = actor;
    request.bearer = token;
  });
}

/** The authenticated actor, with one of `roles`. */
export function actorWith(request: FastifyRequest, ...roles: Actor["role"][]): Actor {
  const a = request.actor;
  if (!a) throw new ServerError("UNAUTHENTICATED");
  if (roles.length > 0 && !roles.includes(a.role)) {
    throw new ServerError("FORBIDDEN", `This needs the ${roles.join(" or ")} role; you are ${a.role}.`);
  }
  return a;
}

import type { FastifyInstance, FastifyRequest } from "fastify";
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
}

/** The client's address as the socket sees it (no proxy headers are trusted). */
export function sourceOf(request: FastifyRequest): string {
  return normaliseIp(request.ip);
}

/**
 * Authentication for the routes registered in `app`'s scope (call it inside a plugin): an `Authorization: Bearer <token>` header
 * is required on every request (401 UNAUTHENTICATED otherwise, checked in onRequest, before any body is read);
 * a source address outside the agency's allow-list gets 403 SOURCE_NOT_ALLOWED.
 */
export function requireAuth(app: FastifyInstance, tokens: TokenResolver): void {
  app.addHook("onRequest", async (request: FastifyRequest) => {
    const h = request.headers.authorization;
    const m = typeof h === "string" ? /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(h) : null;
    const actor = m ? await tokens.actorForToken(m[1]!, sourceOf(request)) : undefined;
    if (!actor)
      throw new ServerError("UNAUTHENTICATED", undefined, { hint: "Run: sealpost login --server URL --key KEYSTORE" });
    request.actor = actor;
    request.bearer = m![1];
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

import type { ConsoleApproveRequest, ConsoleSession, ConsoleSessionRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { actorWith, requireAuth, sourceOf } from "../auth/guard.js";
import type { AuthService } from "../auth/service.js";
import { ServerError } from "../errors.js";
import { sessionCookie, sessionCookieOf } from "./cookie.js";
import { csrfOf, type ConsoleService } from "./service.js";

/** Options of the console plugin. */
export interface ConsoleRoutesOptions {
  console: ConsoleService;
  auth: AuthService;
  /** Lifetime of a session (the token's), for the cookie's Max-Age. */
  tokenTtlSeconds: number;
}

/**
 * POST /v1/console/codes and POST /v1/console/session (public, rate-limited per source address with the login
 * endpoints); POST /v1/console/approve, GET /v1/console/session, POST /v1/console/logout (authenticated).
 */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRoutesOptions): Promise<void> {
  const { auth, tokenTtlSeconds } = opts;
  const login = opts.console;
  const limited = async (request: FastifyRequest, reply: FastifyReply) => {
    const wait = await auth.takeAuthAllowance(sourceOf(request));
    if (wait > 0) {
      reply.header("retry-after", String(wait));
      throw new ServerError("RATE_LIMITED", undefined, {
        hint: `Wait ${wait} s before logging in again.`,
        details: { retryAfterSeconds: wait },
      });
    }
  };
  const secure = (request: FastifyRequest) => request.protocol === "https";
  const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");

  app.post("/v1/console/codes", { onRequest: limited }, async (_request, reply) => {
    noStore(reply);
    return login.createCode();
  });
  app.post("/v1/console/session", { onRequest: limited }, async (request, reply): Promise<ConsoleSession> => {
    noStore(reply);
    const body = request.body as ConsoleSessionRequest | undefined;
    if (typeof body?.pollToken !== "string" || body.pollToken.length > 100) {
      throw new ServerError("BAD_REQUEST", "pollToken is required.");
    }
    const s = await login.poll(body.pollToken, sourceOf(request));
    if (!s) return { state: "pending" };
    const actor = await auth.actorForToken(s.token, sourceOf(request));
    if (!actor) throw new ServerError("UNAUTHENTICATED");
    reply.header("set-cookie", sessionCookie(s.token, secure(request), tokenTtlSeconds));
    return { state: "active", csrf: s.csrf, actor, idleSeconds: login.idleSeconds };
  });
  await app.register(async (scope) => {
    requireAuth(scope, auth);
    scope.post("/v1/console/approve", async (request, reply) => {
      const body = request.body as ConsoleApproveRequest | undefined;
      if (typeof body?.code !== "string" || body.code.length > 20)
        throw new ServerError("BAD_REQUEST", "code is required.");
      await login.approve(actorWith(request), body.code);
      return reply.status(204).send();
    });
    scope.get("/v1/console/session", async (request, reply): Promise<ConsoleSession> => {
      noStore(reply);
      const actor = actorWith(request);
      // Only a cookie session has a CSRF token; a bearer caller gets its actor alone.
      const cookie = request.headers.authorization === undefined ? sessionCookieOf(request) : undefined;
      return {
        state: "active",
        actor,
        idleSeconds: login.idleSeconds,
        ...(cookie ? { csrf: csrfOf(cookie) } : {}),
      };
    });
    scope.post("/v1/console/logout", async (request, reply) => {
      await login.logout(actorWith(request), request.bearer!);
      return reply
        .header("set-cookie", sessionCookie("", secure(request), 0))
        .status(204)
        .send();
    });
  });
}

import type { ChallengeRequest, LoginRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createChallenge, login, logout } from "../auth/service.js";
import type { ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { DEFAULT_AUTH_RATE_LIMIT, TokenBucketLimiter } from "./rate-limit.js";
import { actorWith, requireAuth, sourceOf } from "./auth.js";

/**
 * The origins a login statement may name. With `publicUrl` configured: that origin only. The Host header is chosen
 * by whoever sends the request, so a relaying phishing server could otherwise post a statement signed for its own
 * origin with its own name as Host. Without `publicUrl` (a loopback or test setup) the Host this request came to.
 */
function originsOf(ctx: ServerContext, request: FastifyRequest): string[] {
  if (ctx.config.publicUrl) return [new URL(ctx.config.publicUrl).origin];
  return request.headers.host ? [`${request.protocol}://${request.headers.host}`] : [];
}

/** POST /v1/auth/challenge, POST /v1/auth/login (public, rate-limited per source address); POST /v1/auth/logout, GET /v1/auth/whoami (authenticated). */
export async function authRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const limiter = new TokenBucketLimiter({ ...DEFAULT_AUTH_RATE_LIMIT, ...ctx.config.authRateLimit });
  // Checked before the body is read: an address over its limit gets 429 RATE_LIMITED with Retry-After.
  const limited = async (request: FastifyRequest, reply: FastifyReply) => {
    const wait = limiter.take(sourceOf(request));
    if (wait > 0) {
      reply.header("retry-after", String(wait));
      throw new ServerError("RATE_LIMITED", undefined, {
        hint: `Wait ${wait} s before logging in again.`,
        details: { retryAfterSeconds: wait },
      });
    }
  };
  app.post("/v1/auth/challenge", { onRequest: limited }, async (request) =>
    createChallenge(ctx, (request.body ?? {}) as ChallengeRequest),
  );
  app.post("/v1/auth/login", { onRequest: limited }, async (request) =>
    login(ctx, request.body as LoginRequest, originsOf(ctx, request), sourceOf(request)),
  );
  await app.register(async (scope) => {
    requireAuth(scope, ctx);
    scope.post("/v1/auth/logout", async (request, reply) => {
      logout(ctx, actorWith(request), request.bearer!);
      return reply.status(204).send();
    });
    scope.get("/v1/auth/whoami", async (request) => actorWith(request));
  });
}

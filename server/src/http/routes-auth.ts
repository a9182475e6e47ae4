import type { ChallengeRequest, LoginRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { createChallenge, login, logout } from "../auth/service.js";
import type { ServerContext } from "../context.js";
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

/** POST /v1/auth/challenge, POST /v1/auth/login (public); POST /v1/auth/logout, GET /v1/auth/whoami (authenticated). */
export async function authRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  app.post("/v1/auth/challenge", async (request) => createChallenge(ctx, (request.body ?? {}) as ChallengeRequest));
  app.post("/v1/auth/login", async (request) =>
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

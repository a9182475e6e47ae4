import type { ChallengeRequest, LoginRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { createChallenge, login, logout } from "../auth/service.js";
import type { ServerContext } from "../context.js";
import { actorWith, requireAuth, sourceOf } from "./auth.js";

/** The origins a login statement may name: the configured public URL and the Host this request came to. */
function originsOf(ctx: ServerContext, request: FastifyRequest): string[] {
  const out: string[] = [];
  if (ctx.config.publicUrl) out.push(new URL(ctx.config.publicUrl).origin);
  if (request.headers.host) out.push(`${request.protocol}://${request.headers.host}`);
  return out;
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

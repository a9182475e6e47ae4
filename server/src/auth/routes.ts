import type { ChallengeRequest, LoginRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../errors.js";
import { actorWith, requireAuth, sourceOf } from "./guard.js";
import type { AuthService } from "./service.js";

/** Options of the auth plugin. */
export interface AuthRoutesOptions {
  auth: AuthService;
}

/** POST /v1/auth/challenge, POST /v1/auth/login (public, rate-limited per source address); POST /v1/auth/logout, GET /v1/auth/whoami (authenticated). */
export async function authRoutes(app: FastifyInstance, opts: AuthRoutesOptions): Promise<void> {
  const { auth } = opts;
  // Checked before the body is read: an address over its limit gets 429 RATE_LIMITED with Retry-After.
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
  app.post("/v1/auth/challenge", { onRequest: limited }, async (request) =>
    auth.createChallenge((request.body ?? {}) as ChallengeRequest),
  );
  app.post("/v1/auth/login", { onRequest: limited }, async (request) =>
    auth.login(request.body as LoginRequest, sourceOf(request), request.socket?.localPort),
  );
  await app.register(async (scope) => {
    requireAuth(scope, auth);
    scope.post("/v1/auth/logout", async (request, reply) => {
      await auth.logout(actorWith(request), request.bearer!);
      return reply.status(204).send();
    });
    scope.get("/v1/auth/whoami", async (request) => actorWith(request));
  });
}

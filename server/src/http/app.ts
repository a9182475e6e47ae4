import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { ServerContext } from "../context.js";
import { adminRoutes } from "./routes-admin.js";
import { authRoutes } from "./routes-auth.js";
import { caseRoutes } from "./routes-cases.js";
import { installErrorHandling } from "./errors.js";

/** The OpenAPI 3.1 document kept in the repository (server/openapi.json). */
export const OPENAPI_PATH = new URL("../../openapi.json", import.meta.url);

/** Every registered route (method and URL), in registration order; HEAD routes Fastify adds are left out. */
export type RouteList = { method: string; url: string }[];

/**
 * Builds the Fastify application: each part of the API is a plugin (auth, registry, cases); error handling and the
 * OpenAPI document at GET /v1/openapi.json. `routes` (optional) collects what was registered (tests compare it with
 * the OpenAPI document). Does not listen.
 */
export async function buildApp(
  ctx: ServerContext,
  options: { https?: { cert: Buffer; key: Buffer }; routes?: RouteList; logger?: boolean } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 1024 * 1024,
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.decorateRequest("actor", undefined);
  app.decorateRequest("bearer", undefined);
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) if (m !== "HEAD") options.routes?.push({ method: m, url: r.url });
  });
  installErrorHandling(app);
  const openapi = readFileSync(OPENAPI_PATH, "utf8");
  app.get("/v1/openapi.json", async (_request, reply) => reply.type("application/json").send(openapi));
  await app.register(authRoutes, { ctx });
  await app.register(adminRoutes, { ctx });
  await app.register(caseRoutes, { ctx });
  const extra = await optionalPlugin("../drops/routes.js", "dropRoutes");
  if (extra) await app.register(extra as Parameters<FastifyInstance["register"]>[0], { ctx });
  return app;
}

/** A plugin exported by a module other helpers own, when it exists yet. */
async function optionalPlugin(spec: string, name: string): Promise<unknown> {
  try {
    const m = (await import(spec)) as Record<string, unknown>;
    return typeof m[name] === "function" ? m[name] : undefined;
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw e;
  }
}

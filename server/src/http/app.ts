import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { ServerContext } from "../context.js";
import { dropRoutes } from "../drops/routes.js";
import { adminRoutes } from "./routes-admin.js";
import { authRoutes } from "./routes-auth.js";
import { caseRoutes } from "./routes-cases.js";
import { installErrorHandling } from "./errors.js";

/** The OpenAPI 3.1 document kept in the repository (server/openapi.json). */
export const OPENAPI_PATH = new URL("../../openapi.json", import.meta.url);

/** Every registered route (method and URL), in registration order; HEAD routes Fastify adds are left out. */
export type RouteList = { method: string; url: string }[];

/**
 * Builds the Fastify application: each part of the API is a plugin (auth, registry, cases, drops); error handling and the
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
    // No automatic HEAD routes: a HEAD on a file would otherwise run the download (a transition and an audit entry).
    exposeHeadRoutes: false,
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.decorateRequest("actor", undefined);
  app.decorateRequest("bearer", undefined);
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) if (m !== "HEAD") options.routes?.push({ method: m, url: r.url });
  });
  installErrorHandling(app, ctx.log);
  const openapi = JSON.stringify(openApiDocument());
  app.get("/v1/openapi.json", async (_request, reply) => reply.type("application/json").send(openapi));
  await app.register(authRoutes, { ctx });
  await app.register(adminRoutes, { ctx });
  await app.register(caseRoutes, { ctx });
  await app.register(dropRoutes, { ctx });
  return app;
}

/** Modules whose routes are documented in a fragment `server/src/<module>/openapi.json` (paths and schemas). */
const OPENAPI_FRAGMENTS = ["drops"];

/**
 * The served OpenAPI document: server/openapi.json plus the fragments other modules keep beside their routes
 * (their `paths` and `components.schemas` are merged in).
 */
export function openApiDocument(): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(OPENAPI_PATH, "utf8")) as {
    paths: Record<string, unknown>;
    components: { schemas: Record<string, unknown> };
  };
  for (const m of OPENAPI_FRAGMENTS) {
    let frag: { paths?: Record<string, unknown>; components?: { schemas?: Record<string, unknown> } };
    try {
      frag = JSON.parse(readFileSync(new URL(`../../src/${m}/openapi.json`, import.meta.url), "utf8"));
    } catch {
      continue;
    }
    Object.assign(doc.paths, frag.paths ?? {});
    Object.assign(doc.components.schemas, frag.components?.schemas ?? {});
  }
  return doc;
}

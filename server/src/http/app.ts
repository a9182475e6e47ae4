import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { auditRoutes, installTreeHeadHeader } from "../audit/routes.js";
import { authRoutes } from "../auth/routes.js";
import { caseRoutes } from "../cases/routes.js";
import { consoleRoutes } from "../console/routes.js";
import { consoleStatic } from "../console/static.js";
import { httpTimeoutsOf, uploadProgressOf } from "../config.js";
import type { ServerContext } from "../context.js";
import { dropsRoutes } from "../drops/routes.js";
import { fileRoutes } from "../files/routes.js";
import { opsRoutes } from "../ops/routes.js";
import { registryRoutes } from "../registry/routes.js";
import { rosterRoutes } from "../rosters/routes.js";
import { createServices, type Services } from "../services.js";
import { addContractOperations, applyContract, installContractValidation } from "./contract.js";
import { frameworkError, installErrorHandling } from "./errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route reads its body as a stream under its own deadline (uploads): installBodyDeadline leaves it. */
    streamedBody?: boolean;
  }
}

/** The OpenAPI 3.1 document kept in the repository (server/openapi.json). */
export const OPENAPI_PATH = new URL("../../openapi.json", import.meta.url);

/** Every registered route (method and URL), in registration order; HEAD routes Fastify adds are left out. */
export type RouteList = { method: string; url: string }[];

/**
 * Builds the Fastify application: each domain's routes are a plugin in the domain's folder (auth, audit, registry,
 * rosters, cases, files, drops, console); the web console's page and assets at / (console/static.ts); error handling and the OpenAPI document at GET /v1/openapi.json. `services` default: built over
 * `ctx` (createServices; nothing scheduled). `routes` (optional) collects what was registered (tests compare it
 * with the OpenAPI document). Does not listen and starts no background job (see jobs.ts).
 */
export async function buildApp(
  ctx: ServerContext,
  options: {
    https?: { cert: Buffer; key: Buffer };
    routes?: RouteList;
    logger?: boolean;
    services?: Services;
  } = {},
): Promise<FastifyInstance> {
  const services = options.services ?? createServices(ctx);
  const timeouts = httpTimeoutsOf(ctx.config);
  const headerDeadline = {
    headersTimeout: timeouts.headersMs,
    connectionsCheckingInterval: Math.min(5000, Math.ceil(timeouts.headersMs / 4)),
  };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 1024 * 1024,
    // No automatic HEAD routes: a HEAD on a file would otherwise run the download (a transition and an audit entry).
    exposeHeadRoutes: false,
    // A malformed URL or an over-long path parameter: 400 BAD_REQUEST with the catalogue's error body.
    frameworkErrors: frameworkError,
    // Headers must arrive within headersMs (Node answers 408); Fastify's requestTimeout 0 would leave them unbounded.
    // Node checks the deadline every connectionsCheckingInterval (its default, 30 s, would stretch a short one).
    http: headerDeadline,
    ...(options.https ? { https: { ...options.https, ...headerDeadline } } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.decorateRequest("actor", undefined);
  app.decorateRequest("bearer", undefined);
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) if (m !== "HEAD") options.routes?.push({ method: m, url: r.url });
  });
  installBodyDeadline(app, timeouts.bodyMs);
  installErrorHandling(app, ctx.log);
  installContractValidation(app);
  applyContract(app);
  installTreeHeadHeader(app, services.audit, ctx.log);
  const openapi = JSON.stringify(openApiDocument());
  app.get("/v1/openapi.json", async (_request, reply) => reply.type("application/json").send(openapi));
  const auth = services.auth;
  await app.register(authRoutes, { auth });
  await app.register(auditRoutes, { audit: services.audit, auth });
  await app.register(registryRoutes, { registry: services.registry, auth });
  await app.register(rosterRoutes, { rosters: services.rosters, auth });
  await app.register(caseRoutes, { cases: services.cases, auth });
  await app.register(fileRoutes, {
    cases: services.cases,
    store: ctx.store,
    auth,
    maxUploadBytes: ctx.config.maxUploadBytes,
    uploadProgress: uploadProgressOf(ctx.config),
  });
  await app.register(dropsRoutes, { drops: services.drops, auth, log: ctx.log });
  await app.register(opsRoutes, { ops: services.ops, auth });
  await app.register(consoleRoutes, { console: services.console, auth, tokenTtlSeconds: ctx.config.tokenTtlSeconds });
  await app.register(consoleStatic, {
    dataDir: ctx.dataDir,
    ...(ctx.config.consoleDir ? { dir: ctx.config.consoleDir } : {}),
  });
  return app;
}

/**
 * A request's body (other than an upload's, routes with config.streamedBody) must have arrived within `bodyMs` of
 * the request's start; otherwise its connection is closed (a client dripping a JSON body holds nothing for long).
 */
function installBodyDeadline(app: FastifyInstance, bodyMs: number): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const raw = request.raw;
    const streamed = request.routeOptions.config?.streamedBody;
    if (!streamed && !raw.complete) {
      const timer = setTimeout(() => {
        if (!raw.complete) raw.socket?.destroy();
      }, bodyMs);
      timer.unref();
      raw.once("end", () => clearTimeout(timer));
      raw.once("close", () => clearTimeout(timer));
    }
    done();
  });
}

/** Modules whose routes are documented in a fragment `server/src/<module>/openapi.json` (paths and schemas). */
const OPENAPI_FRAGMENTS = ["drops", "console", "rosters"];

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
  // Endpoints of the contract that neither document describes (the ops endpoints), generated from ENDPOINTS.
  addContractOperations(doc as Parameters<typeof addContractOperations>[0]);
  return doc;
}

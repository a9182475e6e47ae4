import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeContext, createContext } from "../src/app.js";
import type { ServerContext } from "../src/context.js";
import { ERROR_CATALOGUE } from "../src/errors.js";
import { buildApp, openApiDocument, type RouteList } from "../src/http/app.js";
import { silentLogger } from "../src/log.js";
import { freshDataDir, REPO } from "./helpers.js";

/** The OpenAPI document (server/openapi.json, served at GET /v1/openapi.json) against the routes and the error catalogue. */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let ctx: ServerContext;
const routes: RouteList = [];
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  data = await freshDataDir();
  ctx = await createContext(data.dir, { log: silentLogger });
  app = await buildApp(ctx, { routes });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  if (ctx) await closeContext(ctx);
  data?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: the document is walked as plain JSON
type Json = any;
const doc = () =>
  openApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>>; components: Json };

test("it is OpenAPI 3.1 and is served at GET /v1/openapi.json without a token", async () => {
  const r = await app.inject({ method: "GET", url: "/v1/openapi.json" });
  expect(r.statusCode).toBe(200);
  expect(r.json()).toEqual(doc());
  expect(doc().openapi).toBe("3.1.0");
});

test("every registered route is documented, and every documented core route exists", () => {
  const toOpenApi = (url: string) => url.replace(/:(\w+)/g, "{$1}");
  expect(routes.length).toBeGreaterThan(25);
  // Outside /v1/ only the web console's page and assets are served (not part of the API).
  expect(routes.filter((r) => !r.url.startsWith("/v1/"))).toEqual([
    { method: "GET", url: "/" },
    { method: "GET", url: "/assets/:name" },
  ]);
  const api = routes.filter((r) => r.url.startsWith("/v1/"));
  const missing = api.filter((r) => !doc().paths[toOpenApi(r.url)]?.[r.method.toLowerCase()]);
  expect(missing).toEqual([]);
  const core = JSON.parse(readFileSync(join(REPO, "server/openapi.json"), "utf8")) as { paths: Record<string, object> };
  const registered = new Set(api.map((r) => `${r.method.toLowerCase()} ${toOpenApi(r.url)}`));
  for (const [path, ops] of Object.entries(core.paths)) {
    for (const m of Object.keys(ops)) expect(registered.has(`${m} ${path}`), `${m} ${path}`).toBe(true);
  }
});

test("every error code of the catalogue is listed with its status", () => {
  const d = doc();
  const listed = d.components.schemas.Error.properties.error.properties.code.enum as string[];
  const table = (d as unknown as { "x-error-codes": Record<string, { status: number }> })["x-error-codes"];
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
    expect(listed, code).toContain(code);
    expect(table[code]?.status, code).toBe(status);
  }
  // And each code appears among the documented responses of some operation with that status.
  const described = new Set<string>();
  for (const ops of Object.values(d.paths)) {
    for (const op of Object.values(ops) as { responses?: Record<string, { description?: string }> }[]) {
      for (const [status, resp] of Object.entries(op.responses ?? {})) {
        for (const c of (resp.description ?? "").split(/,\s*/)) described.add(`${status} ${c}`);
      }
    }
  }
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
    expect(described.has(`${status} ${code}`), `${status} ${code}`).toBe(true);
  }
});

test("error bodies have the documented shape; unknown paths are JSON 404s", async () => {
  const r = await app.inject({ method: "GET", url: "/v1/nowhere" });
  expect(r.statusCode).toBe(404);
  expect(r.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  const bad = await app.inject({
    method: "POST",
    url: "/v1/auth/challenge",
    payload: "{",
    headers: { "content-type": "application/json" },
  });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().error.code).toBe("BAD_REQUEST");
});

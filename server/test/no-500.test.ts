import { type Endpoint, ENDPOINTS, NAMED_SCHEMAS } from "@sealpost/protocol";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { RouteList } from "../src/http/app.js";
import { buildApp } from "../src/http/app.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, person, registerFixtures, startTestServer } from "./helpers.js";

/**
 * The no-500 sweep: every endpoint of the contract (ENDPOINTS, so a new endpoint is swept as soon as it is defined;
 * and every registered /v1 route must be one of them) is called with valid fixture data and with hostile variants
 * (wrong types, oversize strings, U+0000 in strings, unknown ids, no token, every role, malformed bodies). None may
 * answer 5xx; every error answer is the catalogue's JSON error body.
 */

// biome-ignore lint/suspicious/noExplicitAny: schemas are walked as plain JSON
type Json = any;
const NAMED = new Map<string, Json>(
  NAMED_SCHEMAS.map((s) => [(s as Json).$id as string, JSON.parse(JSON.stringify(s))]),
);
const plainOf = (s: unknown): Json => (s === undefined ? undefined : JSON.parse(JSON.stringify(s)));
const deref = (s: Json): Json => {
  const r = s?.$ref as string | undefined;
  return r ? deref(NAMED.get(r.replace(/#$/, ""))) : s;
};

/** A minimal value that satisfies schema `s` (first alternative of a union, required properties only). */
function sample(schema: Json, depth = 0): Json {
  const s = deref(schema);
  if (!s || depth > 8) return null;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  if (Array.isArray(s.anyOf)) return sample(s.anyOf[0], depth + 1);
  switch (s.type) {
    case "object": {
      const o: Record<string, unknown> = {};
      for (const k of s.required ?? []) o[k] = sample(s.properties?.[k], depth + 1);
      return o;
    }
    case "array":
      return [];
    case "integer":
    case "number":
      return s.minimum ?? 1;
    case "boolean":
      return false;
    case "null":
      return null;
    case "string":
      if (s.format === "date-time") return "2026-12-01T00:00:00.000Z";
      if (s.pattern === "^[0-9a-f]{64}$" || s.pattern === "^[0-9a-fA-F]{64}$") return "ab".repeat(32);
      if (typeof s.pattern === "string" && s.pattern.includes("@")) return "sweep@example.org";
      return "X".repeat(Math.max(1, s.minLength ?? 1));
    default:
      return "x";
  }
}

/** Hostile replacements for one field. */
const HOSTILE: unknown[] = [
  12345,
  -1,
  1.5,
  true,
  null,
  [],
  {},
  ["a"],
  "",
  "a\u0000b",
  "\u0000",
  "Z".repeat(100_000),
  "é".repeat(5000),
];
/** Hostile text for path parameters and query values (URL-encoded by the sweep). */
const HOSTILE_TEXT = [
  "a\u0000b",
  "\u0000",
  "Z".repeat(6000),
  "-1",
  "0",
  "1e400",
  "9".repeat(30),
  "4294967296",
  "../../etc",
  "%",
  "💥",
  " ",
];

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
const tokens: Record<string, Api> = {};
const ids: Record<string, string> = {};
const results: { what: string; status: number; body: string }[] = [];

async function login(id: string): Promise<Api> {
  const a = new Api(server.url);
  await a.login(id);
  return a;
}

beforeAll(async () => {
  data = await freshDataDir();
  // The sweep calls the login endpoints hundreds of times: their rate limit would answer 429 to most of them.
  server = await startTestServer(data.dir, { authRateLimit: { burst: 100_000, perMinute: 100_000 } });
  const admin = await login("ops-wu");
  await registerFixtures(admin);
  tokens.admin = admin;
  tokens.staff = await login("soc-chen");
  tokens.receiver = await login("tax-wang");
  tokens.ops = await login("ops-liu");
  tokens.none = new Api(server.url);
  const c = await tokens.staff.call("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 3,
    uploadNo: "SWEEP-1",
  });
  expect(c.status).toBe(201);
  const certs = await admin.call("GET", `/v1/admin/certificates?staff=${person("soc-lin").email}`);
  Object.assign(ids, {
    id: c.body.case.id,
    code: "KHH-TAX",
    name: "no-such-drop",
    certId: certs.body[0].id,
    staffId: person("soc-lin").email,
    mailId: "1",
  });
});
afterAll(async () => {
  await server?.close();
  await data?.cleanup();
});

/** The path of `e` with `over` replacing parameters (fixture ids otherwise). */
function pathWith(e: Endpoint, over: Record<string, string> = {}): string {
  return e.path.replace(/:([A-Za-z0-9_]+)/g, (_m, n: string) => {
    const v =
      over[n] ??
      (n === "id" && e.path.includes("/certificates/")
        ? ids.certId
        : n === "id" && e.path.includes("/staff/")
          ? ids.staffId
          : n === "id" && e.path.includes("/outbox/")
            ? ids.mailId
            : ids[n]);
    return encodeURIComponent(v ?? "x");
  });
}

async function send(
  what: string,
  who: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  raw?: string | Uint8Array,
): Promise<void> {
  const api = tokens[who]!;
  const h: Record<string, string> = { ...headers };
  if (api.token) h.authorization = `Bearer ${api.token}`;
  let payload: string | Uint8Array | undefined = raw;
  if (raw === undefined && body !== undefined) {
    payload = JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const r = await fetch(server.url + path, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await r.text();
  results.push({ what: `${who} ${method} ${path.slice(0, 120)} ${what}`, status: r.status, body: text.slice(0, 300) });
  if (r.status >= 400 && r.status !== 404) {
    // Every refusal is the catalogue's error body.
    let code: unknown;
    try {
      code = (JSON.parse(text) as Json).error?.code;
    } catch {
      code = undefined;
    }
    if (typeof code !== "string")
      results.push({ what: `${who} ${method} ${path} ${what}: no error body`, status: 599, body: text.slice(0, 300) });
  }
  // A logout ends the token: log that role in again for the next calls.
  if (/logout/.test(path) && r.status < 300 && who !== "none") {
    const id = { admin: "ops-wu", staff: "soc-chen", receiver: "tax-wang", ops: "ops-liu" }[who]!;
    tokens[who] = await login(id);
  }
}

test("every registered /v1 route is an endpoint of the contract", async () => {
  const routes: RouteList = [];
  const app = await buildApp(server.ctx, { routes });
  await app.ready();
  await app.close();
  const known = new Set(Object.values(ENDPOINTS).map((e) => `${e.method} ${e.path}`));
  const api = routes.filter((r) => r.url.startsWith("/v1/") && r.url !== "/v1/openapi.json");
  expect(api.length).toBeGreaterThan(40);
  expect(api.filter((r) => !known.has(`${r.method} ${r.url}`))).toEqual([]);
});

test("no endpoint answers 5xx to valid or hostile requests, on any role", async () => {
  const entries = Object.entries(ENDPOINTS as Record<string, Endpoint>);
  // Logouts and state changes that end a session or fixture run last.
  entries.sort(([a], [b]) => Number(/logout/i.test(a)) - Number(/logout/i.test(b)));
  for (const [name, e] of entries) {
    const body = e.body ? plainOf(e.body) : undefined;
    const valid = body ? sample(body) : undefined;
    const query = e.query ? plainOf(e.query) : undefined;
    const params = e.params ? Object.keys(plainOf(e.params).properties ?? {}) : [];
    const m = e.method;
    const upload = e.upload === true;
    const bytes = new Uint8Array([0x30, 0x82, 0x00, 0x10, 1, 2, 3]);
    const sendValid = (who: string, what: string, path = pathWith(e), b: unknown = valid) =>
      upload
        ? send(what, who, m, path, undefined, { "content-type": "application/octet-stream" }, bytes)
        : send(what, who, m, path, b);

    // Every kind of caller with the fixture data.
    for (const who of ["none", "staff", "receiver", "admin", "ops"]) await sendValid(who, `${name} valid`);
    const who = Array.isArray(e.access) ? (e.access[0] as string) : "staff";

    // Unknown and hostile path parameters.
    for (const p of params) {
      for (const v of ["no-such-thing-0", "999999999", ...HOSTILE_TEXT]) {
        await sendValid(who, `${name} param ${p}`, pathWith(e, { [p]: v }));
      }
    }

    // Hostile query values, each field in turn, and repeated fields.
    if (query) {
      for (const q of Object.keys(query.properties ?? {})) {
        for (const v of [...HOSTILE_TEXT, "2026-13-45T99:99:99Z", "true", "[object Object]"]) {
          await sendValid(who, `${name} query ${q}`, `${pathWith(e)}?${q}=${encodeURIComponent(v)}`);
        }
        await sendValid(who, `${name} query ${q} twice`, `${pathWith(e)}?${q}=a&${q}=b`);
      }
      await sendValid(who, `${name} unknown query`, `${pathWith(e)}?zzz=${encodeURIComponent("\u0000")}`);
    }

    // Hostile bodies: the wrong shape as a whole, then each field (and nested field) replaced.
    if (body && !upload) {
      for (const b of [null, [], "text", 5, {}, { ...valid, extra: "\u0000" }])
        await sendValid(who, `${name} body`, pathWith(e), b);
      await send(`${name} not JSON`, who, m, pathWith(e), undefined, { "content-type": "application/json" }, '{"a":');
      await send(
        `${name} form`,
        who,
        m,
        pathWith(e),
        undefined,
        { "content-type": "application/x-www-form-urlencoded" },
        "a=b",
      );
      const props = deref(body).properties ?? {};
      for (const k of Object.keys(props)) {
        for (const v of HOSTILE)
          await sendValid(who, `${name} body.${k}=${JSON.stringify(v).slice(0, 20)}`, pathWith(e), {
            ...valid,
            [k]: v,
          });
        const inner = deref(props[k]);
        if (inner?.type === "object") {
          for (const ik of Object.keys(inner.properties ?? {})) {
            for (const v of HOSTILE) {
              await sendValid(who, `${name} body.${k}.${ik}`, pathWith(e), {
                ...valid,
                [k]: { ...sample(inner), [ik]: v },
              });
            }
          }
        }
        if (inner?.type === "array") {
          for (const v of HOSTILE) await sendValid(who, `${name} body.${k}[]`, pathWith(e), { ...valid, [k]: [v] });
        }
      }
    }

    // Uploads: empty, JSON, wrong media type, not CMS.
    if (upload) {
      for (const [ct, raw] of [
        ["application/octet-stream", new Uint8Array(0)],
        ["application/json", "{}"],
        ["text/plain", "hello"],
        ["application/octet-stream", new Uint8Array(5000).fill(0)],
      ] as const) {
        await send(`${name} upload ${ct}`, who, m, pathWith(e), undefined, { "content-type": ct }, raw);
      }
    }

    // Hostile headers the endpoint reads.
    if (e.headers) {
      for (const h of Object.keys(plainOf(e.headers).properties ?? {})) {
        for (const v of [
          "bytes=a-b",
          "bytes=99999999999999999999-",
          "bytes=5-1",
          "x".repeat(5000),
          "bytes=0-0,1-1,2-2",
        ]) {
          await send(`${name} header ${h}`, who, m, pathWith(e), undefined, { [h]: v });
        }
      }
    }
  }
  const bad = results.filter((r) => r.status >= 500);
  expect(results.length).toBeGreaterThan(1500);
  expect(bad).toEqual([]);
});

test("U+0000 in a body, query or path string is 400 BAD_REQUEST naming the field", async () => {
  const staff = tokens.staff!;
  const body = await staff.call("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 1,
    uploadNo: "SWEEP\u00002",
  });
  expect(body.status).toBe(400);
  expect(body.body.error).toMatchObject({ code: "BAD_REQUEST" });
  expect(body.body.error.message).toMatch(/uploadNo must not contain the character U\+0000/);
  const query = await tokens.admin!.call("GET", `/v1/admin/staff?agency=${encodeURIComponent("KHH\u0000TAX")}`);
  expect(query.status).toBe(400);
  expect(query.body.error.message).toMatch(/agency must not contain/);
  let deep: unknown = "a\u0000b";
  for (let i = 0; i < 100; i++) deep = [deep];
  const nested = await staff.call("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 1,
    uploadNo: "SWEEP-3",
    extra: deep,
  });
  expect(nested.status).toBe(400);
  expect(nested.body.error.message).toMatch(/nested more than 64 levels deep/);
  const param = await staff.call("GET", `/v1/cases/${encodeURIComponent("a\u0000b")}`);
  expect(param.status).toBe(400);
  expect(param.body.error.message).toMatch(/The URL is not valid: id must not contain/);
});

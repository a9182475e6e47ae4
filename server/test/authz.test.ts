import { readFileSync } from "node:fs";
import type { TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, person, pkiPath, registerFixtures, startTestServer } from "./helpers.js";
import { rawAll, rawRun } from "./helpers/sql.js";

/**
 * The authorisation matrix: every endpoint x every kind of caller, each expected allow or deny. "Deny" means
 * 401 (no token), 403 or 404 (another agency's case is not disclosed); "allow" means the request got past
 * authorisation (2xx, or a business answer such as 400/409/422 for a body or state that does not fit).
 */

/** "colleague": staff of the receiving agency who is not named as a receiver on the case. */
type Who = "sender" | "receiver" | "colleague" | "outsider" | "admin" | "ops" | "anonymous";
const WHO: Who[] = ["sender", "receiver", "colleague", "outsider", "admin", "ops", "anonymous"];

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
const apis = {} as Record<Who, Api>;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  // soc-huang is registered again under a third agency for "another agency's staff" (the registry, not the
  // certificate's O=, decides the agency): deactivate the KHH-SOC record and register her certificates under KHH-EDU.
  await admin.call("POST", "/v1/admin/agencies", {
    code: "KHH-EDU",
    name: "高雄市政府教育局 (test)",
    email: "edu@khh.example",
  });
  const huang = person("soc-huang");
  const certs = (await admin.call("GET", `/v1/admin/certificates?staff=${huang.email}`)).body as { id: string }[];
  for (const c of certs) await admin.call("POST", `/v1/admin/certificates/${c.id}/revoke`, { reason: "moved" });
  await admin.call("POST", `/v1/admin/staff/${huang.email}/deactivate`);
  apis.admin = admin;
  await rawRun(server.ctx.db, "UPDATE staff SET agency = 'KHH-EDU', active = 1 WHERE email = ?", huang.email);
  await rawRun(
    server.ctx.db,
    "UPDATE certificates SET status = 'active' WHERE staff_id = (SELECT id FROM staff WHERE email = ?)",
    huang.email,
  );
  for (const [who, id] of [
    ["sender", "soc-chen"],
    ["receiver", "tax-wang"],
    ["colleague", "tax-lee"],
    ["outsider", "soc-huang"],
    ["ops", "ops-liu"],
  ] as const) {
    apis[who] = new Api(server.url);
    await apis[who].login(id);
  }
  apis.anonymous = new Api(server.url);
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

async function freshCase(): Promise<string> {
  const r = await apis.sender.call<TransferProfile>("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 1,
    uploadNo: "A-1",
    receivers: [person("tax-wang").email],
  });
  expect(r.status).toBe(201);
  return r.body.case.id;
}

const junk = new Uint8Array([1, 2, 3, 4]);
const receipt = (id: string) => ({
  certSha256: "0".repeat(64),
  statement: {
    type: "sealpost-receipt",
    caseId: id,
    kind: "payload",
    sha256: "0".repeat(64),
    time: new Date().toISOString(),
  },
  signature: "",
});

interface Row {
  name: string;
  method: string;
  path: (id: string) => string;
  body?: (id: string) => unknown;
  allow: Who[];
}

const STAFF: Who[] = ["sender", "receiver", "colleague", "outsider"];
const ALL: Who[] = ["sender", "receiver", "colleague", "outsider", "admin", "ops"];
/** Either side of the case, agency-wide. */
const SIDES: Who[] = ["sender", "receiver", "colleague"];
/** The receiving agency, agency-wide. */
const RECEIVING: Who[] = ["receiver", "colleague"];
const ROWS: Row[] = [
  { name: "whoami", method: "GET", path: () => "/v1/auth/whoami", allow: ALL },
  { name: "list agencies", method: "GET", path: () => "/v1/agencies", allow: ALL },
  { name: "list categories", method: "GET", path: () => "/v1/categories", allow: ALL },
  { name: "list cases", method: "GET", path: () => "/v1/cases", allow: STAFF },
  {
    name: "register case",
    method: "POST",
    path: () => "/v1/cases",
    body: () => ({ category: "WELFARE-TAX", receivingAgency: "KHH-TAX", recordCount: 1, uploadNo: "x" }),
    allow: STAFF,
  },
  { name: "show case", method: "GET", path: (id) => `/v1/cases/${id}`, allow: SIDES },
  { name: "profile", method: "GET", path: (id) => `/v1/cases/${id}/profile`, allow: SIDES },
  { name: "result profile", method: "GET", path: (id) => `/v1/cases/${id}/result-profile`, allow: RECEIVING },
  {
    name: "upload payload",
    method: "PUT",
    path: (id) => `/v1/cases/${id}/payload`,
    body: () => junk,
    allow: ["sender"],
  },
  { name: "download payload", method: "GET", path: (id) => `/v1/cases/${id}/payload`, allow: ["receiver"] },
  {
    name: "add note",
    method: "POST",
    path: (id) => `/v1/cases/${id}/notes`,
    body: () => ({ text: "n" }),
    allow: RECEIVING,
  },
  {
    name: "upload result",
    method: "PUT",
    path: (id) => `/v1/cases/${id}/result`,
    body: () => junk,
    allow: RECEIVING,
  },
  { name: "download result", method: "GET", path: (id) => `/v1/cases/${id}/result`, allow: ["sender"] },
  { name: "list receipts", method: "GET", path: (id) => `/v1/cases/${id}/receipts`, allow: SIDES },
  {
    name: "post payload receipt",
    method: "POST",
    path: (id) => `/v1/cases/${id}/receipts`,
    body: receipt,
    allow: ["receiver"],
  },
  { name: "cancel", method: "POST", path: (id) => `/v1/cases/${id}/cancel`, body: () => ({}), allow: ["sender"] },
  { name: "drops: list", method: "GET", path: () => "/v1/drops", allow: ["ops"] },
  { name: "drops: add", method: "POST", path: () => "/v1/drops", body: () => ({}), allow: ["ops"] },
  { name: "drops: history", method: "GET", path: () => "/v1/drops/none/history", allow: ["ops"] },
  { name: "admin: list agencies", method: "GET", path: () => "/v1/admin/agencies", allow: ["admin"] },
  { name: "admin: add agency", method: "POST", path: () => "/v1/admin/agencies", body: () => ({}), allow: ["admin"] },
  {
    name: "admin: change agency",
    method: "PATCH",
    path: () => "/v1/admin/agencies/KHH-EDU",
    body: () => ({ name: "高雄市政府教育局 (test)" }),
    allow: ["admin"],
  },
  {
    name: "admin: withdraw agency",
    method: "POST",
    path: () => "/v1/admin/agencies/NONE/deactivate",
    allow: ["admin"],
  },
  { name: "admin: list staff", method: "GET", path: () => "/v1/admin/staff", allow: ["admin"] },
  { name: "admin: add staff", method: "POST", path: () => "/v1/admin/staff", body: () => ({}), allow: ["admin"] },
  {
    name: "admin: deactivate staff",
    method: "POST",
    path: () => "/v1/admin/staff/nobody@example/deactivate",
    allow: ["admin"],
  },
  {
    name: "admin: activate staff",
    method: "POST",
    path: () => "/v1/admin/staff/nobody@example/activate",
    allow: ["admin"],
  },
  { name: "admin: list certificates", method: "GET", path: () => "/v1/admin/certificates", allow: ["admin"] },
  {
    name: "admin: add certificate",
    method: "POST",
    path: () => "/v1/admin/certificates",
    body: () => ({ staff: person("soc-chen").email, pem: readFileSync(pkiPath(person("soc-chen").sign.cert), "utf8") }),
    allow: ["admin"],
  },
  {
    name: "admin: revoke certificate",
    method: "POST",
    path: () => "/v1/admin/certificates/none/revoke",
    body: () => ({}),
    allow: ["admin"],
  },
  { name: "admin: list categories", method: "GET", path: () => "/v1/admin/categories", allow: ["admin"] },
  {
    name: "admin: add category",
    method: "POST",
    path: () => "/v1/admin/categories",
    body: () => ({}),
    allow: ["admin"],
  },
  {
    name: "admin: retire category",
    method: "POST",
    path: () => "/v1/admin/categories/NONE/deactivate",
    allow: ["admin"],
  },
];

const isDeny = (status: number) => status === 401 || status === 403 || status === 404;

describe("authorisation matrix", () => {
  const cases = ROWS.flatMap((row) => WHO.map((who) => ({ row, who, allowed: row.allow.includes(who) })));
  test.each(cases.map((c) => [`${c.row.name} by ${c.who}: ${c.allowed ? "allow" : "deny"}`, c] as const))(
    "%s",
    async (_n, { row, who, allowed }) => {
      const id = await freshCase();
      const r = await apis[who].call(row.method, row.path(id), row.body?.(id));
      if (who === "anonymous") {
        expect(r.status).toBe(401);
        // Nothing but the error.
        expect(Object.keys(r.body)).toEqual(["error"]);
        expect(r.body.error.code).toBe("UNAUTHENTICATED");
        return;
      }
      if (allowed) {
        // "not found" for an allowed caller can only be about a named registry object, never about the case
        const notFoundOk = (row.name.startsWith("admin:") || row.name.startsWith("drops:")) && r.status === 404;
        expect(isDeny(r.status) && !notFoundOk, `${r.status} ${JSON.stringify(r.body)}`).toBe(false);
      } else {
        expect(isDeny(r.status), `${r.status} ${JSON.stringify(r.body)}`).toBe(true);
        expect(["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"]).toContain(r.body.error.code);
      }
    },
  );

  test("another agency's case is not disclosed (404), the wrong side of an own case is 403", async () => {
    const id = await freshCase();
    expect((await apis.outsider.call("GET", `/v1/cases/${id}`)).status).toBe(404);
    expect((await apis.receiver.call("POST", `/v1/cases/${id}/cancel`, {})).status).toBe(403);
    const list = await apis.outsider.call<{ id: string; senderAgency: string; receivingAgency: string }[]>(
      "GET",
      "/v1/cases",
    );
    expect(list.body.map((c) => c.id)).not.toContain(id);
    for (const c of list.body) expect([c.senderAgency, c.receivingAgency]).toContain("KHH-EDU");
  });
});

describe("IP allow-list", () => {
  test("requests and logins from outside an agency's allow-list get 403; restoring it lets them in", async () => {
    const set = (cidrs: string[]) => apis.admin.call("PATCH", "/v1/admin/agencies/KHH-TAX", { allowCidrs: cidrs });
    expect((await set(["10.9.0.0/16", "2001:db8::/32"])).status).toBe(200);
    const r = await apis.receiver.call("GET", "/v1/auth/whoami");
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("SOURCE_NOT_ALLOWED");
    await expect(new Api(server.url).login("tax-lee")).rejects.toThrow(/403/);
    // Other agencies are unaffected.
    expect((await apis.sender.call("GET", "/v1/auth/whoami")).status).toBe(200);
    expect((await set(["127.0.0.0/8"])).status).toBe(200);
    expect((await apis.receiver.call("GET", "/v1/auth/whoami")).status).toBe(200);
    expect((await set(["not-a-network"])).status).toBe(400);
    expect((await set([])).status).toBe(200);
  });
});

describe("tokens", () => {
  test("logout deletes the token; a revoked signing certificate ends its sessions", async () => {
    const a = new Api(server.url);
    await a.login("tax-chang");
    expect((await a.call("GET", "/v1/auth/whoami")).status).toBe(200);
    expect((await a.call("POST", "/v1/auth/logout")).status).toBe(204);
    expect((await a.call("GET", "/v1/auth/whoami")).status).toBe(401);
    // Only the SHA-256 of a token is stored.
    const login = await a.login("tax-chang");
    const stored = (await rawAll(server.ctx.db, "SELECT hash FROM tokens")) as { hash: string }[];
    expect(stored.some((s) => s.hash === login.token)).toBe(false);
    const cert = (await apis.admin.call("GET", `/v1/admin/certificates?staff=${person("tax-chang").email}`)).body.find(
      (c: { purpose: string }) => c.purpose === "sign",
    );
    expect(
      (await apis.admin.call("POST", `/v1/admin/certificates/${cert.id}/revoke`, { reason: "card lost" })).status,
    ).toBe(200);
    expect((await a.call("GET", "/v1/auth/whoami")).status).toBe(401);
    await expect(new Api(server.url).login("tax-chang")).rejects.toThrow(/LOGIN_FAILED/);
  });

  test("an expired token is refused; a deactivated staff member is logged out and cannot log in", async () => {
    const a = new Api(server.url);
    const login = await a.login("soc-lin");
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256").update(login.token).digest("hex");
    await rawRun(server.ctx.db, "UPDATE tokens SET expires_at = '2020-01-01T00:00:00.000Z' WHERE hash = ?", hash);
    expect((await a.call("GET", "/v1/auth/whoami")).status).toBe(401);
    await a.login("soc-lin");
    expect((await apis.admin.call("POST", `/v1/admin/staff/${person("soc-lin").email}/deactivate`)).status).toBe(200);
    expect((await a.call("GET", "/v1/auth/whoami")).status).toBe(401);
    await expect(new Api(server.url).login("soc-lin")).rejects.toThrow(/LOGIN_FAILED/);
    expect((await apis.admin.call("POST", `/v1/admin/staff/${person("soc-lin").email}/activate`)).status).toBe(200);
    await a.login("soc-lin");
    expect((await a.call("GET", "/v1/auth/whoami")).body.email).toBe(person("soc-lin").email);
  });

  test("a challenge is answered alike for known and unknown identities; a login on an unknown one fails generically", async () => {
    const a = new Api(server.url);
    const { sign } = await import("node:crypto");
    const { canonicalJson } = await import("@sealpost/protocol");
    const { keyEntry } = await import("./helpers.js");
    const known = await a.call("POST", "/v1/auth/challenge", { email: person("tax-wang").email });
    const unknownMail = await a.call("POST", "/v1/auth/challenge", { email: "nobody@example" });
    const unknownCert = await a.call("POST", "/v1/auth/challenge", { certSha256: "ab".repeat(32) });
    for (const r of [known, unknownMail, unknownCert]) {
      expect(r.status).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual(["challenge", "challengeId", "expiresAt"]);
      expect(Buffer.from(r.body.challenge, "base64url")).toHaveLength(32);
    }
    expect((await a.call("POST", "/v1/auth/challenge", {})).status).toBe(400);
    // tax-wang signs correctly, but on the challenge asked for an unknown address: refused like an unregistered
    // certificate on a known person's challenge (same code, same message).
    const k = keyEntry("tax-wang", "sign");
    const loginOn = (ch: typeof known, certSha256: string) => {
      const st = {
        type: "sealpost-login",
        challenge: ch.body.challenge,
        origin: new URL(server.url).origin,
        time: new Date().toISOString(),
      };
      return a.call("POST", "/v1/auth/login", {
        challengeId: ch.body.challengeId,
        certSha256,
        statement: st,
        signature: sign("sha256", Buffer.from(canonicalJson(st)), k.privateKey).toString("base64"),
      });
    };
    const onUnknown = await loginOn(unknownMail, k.cert.sha256);
    const unregistered = await loginOn(known, "cd".repeat(32));
    expect(onUnknown.status).toBe(401);
    expect(onUnknown.body.error.code).toBe("LOGIN_FAILED");
    expect(unregistered.status).toBe(401);
    expect(onUnknown.body.error.message).toBe(unregistered.body.error.message);
  });

  test("a login signed by another key, for another server, or replayed is refused", async () => {
    const a = new Api(server.url);
    const { createPrivateKey, sign } = await import("node:crypto");
    const { canonicalJson } = await import("@sealpost/protocol");
    const { keyEntry } = await import("./helpers.js");
    const k = keyEntry("tax-lee", "sign");
    const attempt = async (mutate: (st: Record<string, string>) => void, key = k.privateKey) => {
      const ch = await a.call("POST", "/v1/auth/challenge", { certSha256: k.cert.sha256 });
      const st: Record<string, string> = {
        type: "sealpost-login",
        challenge: ch.body.challenge,
        origin: new URL(server.url).origin,
        time: new Date().toISOString(),
      };
      mutate(st);
      const body = {
        challengeId: ch.body.challengeId,
        certSha256: k.cert.sha256,
        statement: st,
        signature: sign("sha256", Buffer.from(canonicalJson(st)), key).toString("base64"),
      };
      const r = await a.call("POST", "/v1/auth/login", body);
      return { r, replay: () => a.call("POST", "/v1/auth/login", body) };
    };
    const other = createPrivateKey(readFileSync(pkiPath(person("tax-wang").sign.key)));
    expect((await attempt(() => {}, other)).r.body.error.code).toBe("LOGIN_FAILED");
    expect((await attempt((s) => (s.origin = "https://evil.example"))).r.body.error.code).toBe("LOGIN_FAILED");
    expect((await attempt((s) => (s.time = "2020-01-01T00:00:00Z"))).r.body.error.code).toBe("LOGIN_FAILED");
    const ok = await attempt(() => {});
    expect(ok.r.status).toBe(200);
    expect((await ok.replay()).body.error.code).toBe("LOGIN_FAILED");
    // Each failure is recorded with its source address and reason.
    const failed = (await rawAll(
      server.ctx.db,
      "SELECT actor, source, detail FROM audit_log WHERE action = 'auth.login_failed' AND detail LIKE ?",
      `%${k.cert.sha256}%`,
    )) as { actor: string; source: string; detail: string }[];
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(failed.every((f) => f.source === "127.0.0.1")).toBe(true);
  });
});

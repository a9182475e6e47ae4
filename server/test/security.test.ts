import { sign } from "node:crypto";
import { readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { canonicalJson } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAudit } from "../src/audit/verify.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, person, registerFixtures, startTestServer } from "./helpers.js";
import { rawGet, rawRun } from "./helpers/sql.js";

/**
 * Security review probes against a real server on a socket: login origin binding (to the public URL when
 * configured, else to the loopback origins of the listening port; never to the Host header), and free-text fields
 * that end up in the audit chain.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let sender: Api;
let admin: Api;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  sender = new Api(server.url);
  await sender.login("soc-chen");
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

/** A signed login for `id` naming `origin`, posted with the given Host header (fastify inject: no socket needed). */
async function loginWithHost(id: string, origin: string, host: string) {
  const k = keyEntry(id, "sign");
  const ch = await new Api(server.url).call("POST", "/v1/auth/challenge", { certSha256: k.cert.sha256 });
  const statement = { type: "sealpost-login", challenge: ch.body.challenge, origin, time: new Date().toISOString() };
  const r = await server.app.inject({
    method: "POST",
    url: "/v1/auth/login",
    headers: { host, "content-type": "application/json" },
    payload: JSON.stringify({
      challengeId: ch.body.challengeId,
      certSha256: k.cert.sha256,
      statement,
      signature: sign("sha256", Buffer.from(canonicalJson(statement)), k.privateKey).toString("base64"),
    }),
  });
  return { status: r.statusCode, body: r.json() as { token?: string; error?: { code: string } } };
}

describe("login origin", () => {
  test("with a public URL configured, a statement signed for a relaying server's origin is refused", async () => {
    const publicUrl = "https://sealpost.test.example";
    server.ctx.config.publicUrl = publicUrl;
    try {
      // A phishing server (evil.example) relays the challenge, gets it signed for its own origin, and posts the
      // login with its own name as Host: the Host header is the client's choice, so it proves nothing.
      const relayed = await loginWithHost("tax-lee", "http://evil.example", "evil.example");
      expect(relayed.status).toBe(401);
      expect(relayed.body.error?.code).toBe("LOGIN_FAILED");
      expect((relayed.body.error as { hint?: string }).hint).toContain(`--server ${publicUrl}`);
      // The public URL's origin is accepted whatever the Host header says.
      const ok = await loginWithHost("tax-lee", publicUrl, "127.0.0.1");
      expect(ok.status).toBe(200);
      expect(ok.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    } finally {
      delete server.ctx.config.publicUrl;
    }
  });

  test("without a public URL only loopback origins of the listening port log in, whatever the Host header says", async () => {
    const url = new URL(server.url);
    // The server's own loopback origin: accepted, also when the Host header names another site.
    expect((await loginWithHost("tax-lee", url.origin, "evil.example")).status).toBe(200);
    expect((await loginWithHost("tax-lee", `http://localhost:${url.port}`, url.host)).status).toBe(200);
    // A look-alike origin whose name the relaying site also puts in the Host header: refused.
    for (const origin of [
      `http://127.0.0.1.evil.example:${url.port}`,
      "https://sealpost.example.gov.tw.evil.example",
    ]) {
      const relayed = await loginWithHost("tax-lee", origin, new URL(origin).host);
      expect(relayed.status, origin).toBe(401);
      expect(relayed.body.error?.code).toBe("LOGIN_FAILED");
    }
    // Loopback, but another port (another local service relaying the login): refused.
    const otherPort = `http://127.0.0.1:${Number(url.port) === 1 ? 2 : Number(url.port) - 1}`;
    expect((await loginWithHost("tax-lee", otherPort, new URL(otherPort).host)).status).toBe(401);
  });

  test("over the socket: a login signed for a look-alike origin and posted with that Host is refused and recorded", async () => {
    const k = keyEntry("tax-lee", "sign");
    const ch = await new Api(server.url).call("POST", "/v1/auth/challenge", { certSha256: k.cert.sha256 });
    const lookAlike = "https://sealpost-example.gov.tw";
    const statement = {
      type: "sealpost-login",
      challenge: ch.body.challenge,
      origin: lookAlike,
      time: new Date().toISOString(),
    };
    const body = JSON.stringify({
      challengeId: ch.body.challengeId,
      certSha256: k.cert.sha256,
      statement,
      signature: sign("sha256", Buffer.from(canonicalJson(statement)), k.privateKey).toString("base64"),
    });
    const u = new URL(server.url);
    const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          path: "/v1/auth/login",
          method: "POST",
          headers: { host: new URL(lookAlike).host, "content-type": "application/json" },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text).error.code).toBe("LOGIN_FAILED");
    expect(JSON.parse(r.text).error.message).toContain(lookAlike);
    expect(JSON.parse(r.text).error.hint).toContain("loopback address");
    const last = (await rawGet(
      server.ctx.db,
      "SELECT detail FROM audit_log WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1",
    )) as { detail: string };
    expect(JSON.parse(last.detail).reason).toContain(lookAlike);
  });
});

describe("free text that reaches the audit chain", () => {
  const newCase = (extra: Record<string, unknown> = {}) =>
    sender.call("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: person("tax-wang").agency,
      recordCount: 3,
      uploadNo: "SEC-1",
      ...extra,
    });

  test("a cancel reason that is not bounded text is refused with BAD_REQUEST; the case stays registered", async () => {
    const c = await newCase();
    expect(c.status).toBe(201);
    const id = c.body.case.id as string;
    for (const reason of [{ nested: { deep: [1, 2, 3] } }, 42, "x".repeat(4001)]) {
      const r = await sender.call("POST", `/v1/cases/${id}/cancel`, { reason });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
    expect((await sender.call("GET", `/v1/cases/${id}`)).body.state).toBe("registered");
    const ok = await sender.call("POST", `/v1/cases/${id}/cancel`, { reason: "宣告撤回 \u2028 test" });
    expect(ok.status).toBe(200);
    expect(ok.body.state).toBe("cancelled");
    expect((await verifyAudit(server.ctx.db)).ok).toBe(true);
  });

  test("remarks and receivers of the wrong type are BAD_REQUEST, not an internal error", async () => {
    for (const extra of [{ remarks: { a: 1 } }, { remarks: "r".repeat(4001) }, { receivers: "wang@tax.khh.example" }]) {
      const r = await newCase(extra);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
  });
});

describe("uploads by callers who may not upload", () => {
  /**
   * Starts a PUT with a large declared body, sends only its first chunk, and waits for whichever comes first: the
   * server's answer, or an upload temp file in DIR/tmp (the server spooling the body).
   */
  async function startUpload(api: Api, path: string): Promise<{ status?: number; spooled: boolean }> {
    const u = new URL(server.url + path);
    const tmp = join(data.dir, "tmp");
    return new Promise((resolve) => {
      let settled = false;
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "PUT",
        headers: {
          authorization: `Bearer ${api.token}`,
          "content-type": "application/octet-stream",
          "content-length": String(50 * 1024 * 1024),
        },
      });
      const finish = (r: { status?: number; spooled: boolean }) => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        req.destroy();
        resolve(r);
      };
      const poll = setInterval(() => {
        if (readdirSync(tmp).length > 0) finish({ spooled: true });
      }, 5);
      req.on("response", (res) => {
        res.resume();
        finish({ status: res.statusCode ?? 0, spooled: readdirSync(tmp).length > 0 });
      });
      req.on("error", () => finish({ spooled: readdirSync(tmp).length > 0 }));
      req.write(Buffer.alloc(256 * 1024, 0x30));
    });
  }

  test("the wrong side or another agency's case is refused before any byte is spooled to disk", async () => {
    const c = await sender.call("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: person("tax-wang").agency,
      recordCount: 1,
      uploadNo: "SEC-UP",
    });
    expect(c.status).toBe(201);
    const receiver = new Api(server.url);
    await receiver.login("tax-wang");
    // The receiving agency may not upload the payload; nobody sees a case that does not exist; a result needs
    // a received case.
    const wrongSide = await startUpload(receiver, `/v1/cases/${c.body.case.id}/payload`);
    expect(wrongSide).toEqual({ status: 403, spooled: false });
    const unknown = await startUpload(receiver, "/v1/cases/C20260101-00000000/payload");
    expect(unknown).toEqual({ status: 404, spooled: false });
    const early = await startUpload(receiver, `/v1/cases/${c.body.case.id}/result`);
    expect(early).toEqual({ status: 409, spooled: false });
    expect((await sender.call("GET", `/v1/cases/${c.body.case.id}`)).body.state).toBe("registered");
  });
});

describe("IP allow-lists", () => {
  test("X-Forwarded-For is not trusted: a client outside the list cannot claim an allowed address", async () => {
    const agency = person("soc-chen").agency;
    const set = {
      run: (...a: unknown[]) => rawRun(server.ctx.db, "UPDATE agencies SET allow_cidrs = ? WHERE code = ?", ...a),
    };
    await set.run(JSON.stringify(["10.0.0.0/8"]), agency);
    try {
      for (const headers of [
        { "x-forwarded-for": "10.1.2.3" },
        { forwarded: "for=10.1.2.3" },
        { "x-real-ip": "10.1.2.3" },
      ]) {
        const r = await sender.call("GET", "/v1/cases", undefined, headers);
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe("SOURCE_NOT_ALLOWED");
      }
    } finally {
      await set.run("[]", agency);
    }
    expect((await sender.call("GET", "/v1/cases")).status).toBe(200);
  });
});

describe("admin agency update", () => {
  test("fields of the wrong type are BAD_REQUEST; fields the update does not apply never reach the audit entry", async () => {
    const code = person("tax-wang").agency;
    for (const body of [{ name: { zh: "稅捐處" } }, { email: 42 }, { allowCidrs: "10.0.0.0/8" }, { allowCidrs: [7] }]) {
      const r = await admin.call("PATCH", `/v1/admin/agencies/${code}`, body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
    // 1e400 parses as Infinity, which canonical JSON cannot hash: an unknown field must not break the update.
    const raw = `{"name":"高雄市稅捐稽徵處 (test)","injected":1e400,"note":{"deep":[1,2]}}`;
    const r = await fetch(`${server.url}/v1/admin/agencies/${code}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: raw,
    });
    expect(r.status).toBe(200);
    const last = (await rawGet(
      server.ctx.db,
      "SELECT detail FROM audit_log WHERE action = 'agency.update' ORDER BY seq DESC LIMIT 1",
    )) as { detail: string };
    expect(JSON.parse(last.detail)).toEqual({ code, name: "高雄市稅捐稽徵處 (test)" });
    expect((await verifyAudit(server.ctx.db)).ok).toBe(true);
  });
});

describe("failed logins in the append-only audit chain", () => {
  test("an unauthenticated request cannot make the server append an entry of unbounded size", async () => {
    const huge = "f".repeat(500_000);
    const before = (await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM audit_log")) as { n: number | string };
    const r = await new Api(server.url).call("POST", "/v1/auth/login", {
      challengeId: "nope",
      certSha256: huge,
      statement: { type: "sealpost-login" },
      signature: "AA==",
    });
    // The contract refuses the oversize field before the login is tried: nothing is recorded.
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("BAD_REQUEST");
    const after = (await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM audit_log")) as { n: number | string };
    expect(Number(after.n)).toBe(Number(before.n));
    // Within the contract's bounds, a failed login is recorded with a bounded entry.
    const r2 = await new Api(server.url).call("POST", "/v1/auth/login", {
      challengeId: "nope",
      certSha256: "f".repeat(100),
      statement: { type: "sealpost-login", challenge: "c".repeat(200), origin: "o".repeat(2000), time: "t" },
      signature: "A".repeat(20_000),
    });
    expect(r2.status).toBe(401);
    const last = (await rawGet(
      server.ctx.db,
      "SELECT detail FROM audit_log WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1",
    )) as { detail: string };
    expect(last.detail.length).toBeLessThan(1000);
    expect(JSON.parse(last.detail)).toMatchObject({ code: "LOGIN_FAILED", certSha256: "" });
  });

  test("an origin of any length is quoted shortly in the recorded reason", async () => {
    // The longest origin the contract lets through (2000 characters).
    const r = await loginWithHost("tax-lee", `https://${"a".repeat(1980)}.example`, "127.0.0.1");
    expect(r.status).toBe(401);
    const last = (await rawGet(
      server.ctx.db,
      "SELECT detail FROM audit_log WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1",
    )) as { detail: string };
    expect(last.detail.length).toBeLessThan(1000);
    expect(JSON.parse(last.detail).certSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("admin certificate revocation", () => {
  test("a reason that is not bounded text is BAD_REQUEST and the certificate stays active", async () => {
    const certs = (await admin.call("GET", `/v1/admin/certificates?staff=${person("tax-chang").email}`)).body as {
      id: string;
      status: string;
    }[];
    const id = certs[0]!.id;
    for (const reason of [{ why: "x" }, 7, "r".repeat(1001)]) {
      const r = await admin.call("POST", `/v1/admin/certificates/${id}/revoke`, { reason });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
    const after = (await admin.call("GET", `/v1/admin/certificates?staff=${person("tax-chang").email}`)).body as {
      id: string;
      status: string;
    }[];
    expect(after.find((c) => c.id === id)?.status).toBe("active");
  });
});

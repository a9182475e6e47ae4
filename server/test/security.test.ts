import { sign } from "node:crypto";
import { canonicalJson } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAudit } from "../src/audit/verify.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, person, registerFixtures, startTestServer } from "./helpers.js";

/**
 * Security review probes against a real server on a socket: login origin binding when a public URL is configured,
 * and free-text fields that end up in the audit chain.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let sender: Api;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  const admin = new Api(server.url);
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
      // The public URL's origin is accepted whatever the Host header says.
      const ok = await loginWithHost("tax-lee", publicUrl, "127.0.0.1");
      expect(ok.status).toBe(200);
      expect(ok.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    } finally {
      delete server.ctx.config.publicUrl;
    }
  });

  test("without a public URL the Host the request came to is still accepted (loopback setups)", async () => {
    const url = new URL(server.url);
    const ok = await loginWithHost("tax-lee", url.origin, url.host);
    expect(ok.status).toBe(200);
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
    expect(verifyAudit(server.ctx.db).ok).toBe(true);
  });

  test("remarks and receivers of the wrong type are BAD_REQUEST, not an internal error", async () => {
    for (const extra of [{ remarks: { a: 1 } }, { remarks: "r".repeat(4001) }, { receivers: "wang@tax.khh.example" }]) {
      const r = await newCase(extra);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
  });
});

import { sign } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import { canonicalJson, type TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAudit } from "../src/audit/verify.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, REPO, registerFixtures, signedReceipt, startTestServer } from "./helpers.js";
import { TEST_DB } from "./helpers/postgres.js";
import { rawAll } from "./helpers/sql.js";

/**
 * Two relay instances on one PostgreSQL database and one data folder (file store): clients alternate between them
 * at every step of the round trip (a challenge from one, the login at the other, the case registered at one, its
 * payload uploaded to the other...), and each background job runs on exactly one of them.
 */
describe.runIf(TEST_DB === "postgres")("two instances on one database", () => {
  let data: Awaited<ReturnType<typeof freshDataDir>>;
  let a: RunningServer;
  let b: RunningServer;
  let work: string;
  const BATCH = join(REPO, "fixtures/batches/sample-100.csv");

  beforeAll(async () => {
    data = await freshDataDir();
    work = mkdtempSync(join(tmpdir(), "sealpost-instances-"));
    a = await startTestServer(data.dir);
    b = await startTestServer(data.dir);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await data?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Logs `id` in with the challenge from `first` and the signed login posted to `second`. */
  async function loginAcross(id: string, first: RunningServer, second: RunningServer): Promise<string> {
    const k = keyEntry(id, "sign");
    const ch = await new Api(first.url).call("POST", "/v1/auth/challenge", { certSha256: k.cert.sha256 });
    expect(ch.status).toBe(200);
    const statement = {
      type: "sealpost-login",
      challenge: ch.body.challenge,
      origin: new URL(second.url).origin,
      time: new Date().toISOString(),
    };
    const r = await new Api(second.url).call("POST", "/v1/auth/login", {
      challengeId: ch.body.challengeId,
      certSha256: k.cert.sha256,
      statement,
      signature: sign("sha256", Buffer.from(canonicalJson(statement)), k.privateKey).toString("base64"),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // The challenge was single use across instances.
    const again = await new Api(first.url).call("POST", "/v1/auth/login", {
      challengeId: ch.body.challengeId,
      certSha256: k.cert.sha256,
      statement: { ...statement, origin: new URL(first.url).origin },
      signature: "AA==",
    });
    expect(again.status).toBe(401);
    return r.body.token;
  }

  async function put(server: RunningServer, token: string, path: string, file: string) {
    const r = await fetch(server.url + path, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/octet-stream",
        "content-length": String(statSync(file).size),
      },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    return { status: r.status, body: (await r.json()) as { state: string } };
  }

  async function seal(profile: TransferProfile, signer: string, name: string): Promise<string> {
    const out = join(work, name);
    await sealFile(BATCH, out, {
      recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: keyEntry(signer, "sign"),
    });
    return out;
  }

  test("each background job runs on exactly one instance", () => {
    for (const job of ["retention", "drops"]) {
      expect([a.jobs.runner.holds(job), b.jobs.runner.holds(job)].filter(Boolean)).toHaveLength(1);
    }
  });

  test("the whole round trip with every step on the other instance", async () => {
    const admin = new Api(a.url, await loginAcross("ops-wu", b, a));
    await registerFixtures(admin);
    const soc = await loginAcross("soc-chen", a, b);
    const tax = await loginAcross("tax-wang", b, a);
    const on = (s: RunningServer, token: string) => new Api(s.url, token);

    const created = await on(b, soc).call<TransferProfile>("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 100,
      uploadNo: "2I-001",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.case.id;
    const payload = await seal(created.body, "soc-chen", "payload.p7m");
    expect((await put(a, soc, `/v1/cases/${id}/payload`, payload)).body.state).toBe("sent");

    const inbox = await on(a, tax).call("GET", "/v1/cases?box=inbox");
    expect(inbox.body.map((c: { id: string }) => c.id)).toContain(id);
    const got = await fetch(`${b.url}/v1/cases/${id}/payload`, { headers: { authorization: `Bearer ${tax}` } });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).length).toBe(statSync(payload).size);
    const payloadSha = got.headers.get("x-sealpost-sha256")!;
    const receipt = signedReceipt("tax-wang", id, "payload", payloadSha);
    expect((await on(a, tax).call("POST", `/v1/cases/${id}/receipts`, receipt)).status).toBe(201);
    expect((await on(a, tax).call("POST", `/v1/cases/${id}/notes`, { text: "處理中 (test)" })).status).toBe(201);

    const rp = await on(b, tax).call<TransferProfile>("GET", `/v1/cases/${id}/result-profile`);
    const result = await seal(rp.body, "tax-wang", "result.p7m");
    expect((await put(a, tax, `/v1/cases/${id}/result`, result)).body.state).toBe("processed");
    const back = await fetch(`${b.url}/v1/cases/${id}/result`, { headers: { authorization: `Bearer ${soc}` } });
    expect(back.status).toBe(200);
    await back.arrayBuffer();
    expect((await on(a, soc).call("GET", `/v1/cases/${id}`)).body.state).toBe("processed");
    const resultReceipt = signedReceipt("soc-chen", id, "result", back.headers.get("x-sealpost-sha256")!);
    expect((await on(b, soc).call("POST", `/v1/cases/${id}/receipts`, resultReceipt)).status).toBe(201);
    expect((await on(a, soc).call("GET", `/v1/cases/${id}`)).body.state).toBe("result_received");

    // One chain, whichever instance wrote each entry; each transition recorded once.
    expect(await verifyAudit(a.ctx.db)).toMatchObject({ ok: true });
    const actions = await rawAll<{ action: string }>(
      b.ctx.db,
      "SELECT action FROM audit_log WHERE case_id = ? ORDER BY seq",
      id,
    );
    expect(actions.map((r) => r.action)).toEqual([
      "case.register",
      "case.upload_payload",
      "case.download_payload",
      "case.receipt_payload",
      "case.note",
      "case.upload_result",
      "case.download_result",
      "case.receipt_result",
    ]);
  });

  test("two instances racing the same transition: exactly one wins", async () => {
    const soc = await loginAcross("soc-chen", a, b);
    const created = await new Api(a.url, soc).call<TransferProfile>("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "2I-002",
    });
    const id = created.body.case.id;
    const results = await Promise.all(
      [a, b, a, b].map((s) => new Api(s.url, soc).call("POST", `/v1/cases/${id}/cancel`, { reason: "race" })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
  });
});

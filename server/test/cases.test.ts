import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { openFile, sealFile } from "@sealpost/cms";
import { createTrustPolicy, parseCertificate, parseCertificates } from "@sealpost/pki";
import { canonicalJson, type TransferProfile } from "@sealpost/protocol";
import { sign } from "node:crypto";
import { rawAll, rawGet } from "./helpers/sql.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAudit } from "../src/audit/verify.js";
import type { RunningServer } from "../src/server.js";
import {
  Api,
  freshDataDir,
  keyEntry,
  MANIFEST,
  person,
  pkiPath,
  REPO,
  registerFixtures,
  startTestServer,
} from "./helpers.js";

/** The case round trip and upload refusals over a real socket, with real CMS files sealed by @sealpost/cms. */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let work: string;
const admin = () => new Api(server.url);
const BATCH = join(REPO, "fixtures/batches/sample-100.csv");
const MAX_UPLOAD = 256 * 1024;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir, { maxUploadBytes: MAX_UPLOAD });
  work = mkdtempSync(join(tmpdir(), "sealpost-cases-"));
  const a = admin();
  await a.login("ops-wu");
  await registerFixtures(a);
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const trust = () =>
  createTrustPolicy({
    anchors: parseCertificates(readFileSync(pkiPath(MANIFEST.root.cert), "utf8")),
    intermediates: parseCertificates(readFileSync(pkiPath(MANIFEST.intermediate.cert), "utf8")),
    crls: [readFileSync(pkiPath(MANIFEST.intermediate.crl)), readFileSync(pkiPath(MANIFEST.root.crl))].map(
      (b) => new Uint8Array(Buffer.from(b.toString("utf8").replace(/-----[^-]+-----|\s+/g, ""), "base64")),
    ),
    revocation: "require",
  });

async function newCase(api: Api, extra: Record<string, unknown> = {}): Promise<TransferProfile> {
  const r = await api.call<TransferProfile>("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 100,
    uploadNo: "1150001",
    ...extra,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function seal(profile: TransferProfile, signer: string, name: string, input = BATCH): Promise<string> {
  const out = join(work, name);
  await sealFile(input, out, {
    recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
    signer: keyEntry(signer, "sign"),
    manifest: { caseId: profile.case.id, senderAgency: profile.case.senderAgency, recordCount: 100 },
  });
  return out;
}

/** PUT a file as a streamed body (duplex half), as the CLI does. */
async function putFile(api: Api, path: string, file: string) {
  const r = await fetch(api.url + path, {
    method: "PUT",
    headers: {
      authorization: `Bearer ${api.token}`,
      "content-type": "application/octet-stream",
      "content-length": String(statSync(file).size),
    },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: "half",
  } as RequestInit);
  // biome-ignore lint/suspicious/noExplicitAny: response fields are checked one by one
  return { status: r.status, body: (await r.json()) as any };
}

function signed(id: string, statement: Record<string, unknown>) {
  const k = keyEntry(id, "sign");
  return {
    certSha256: k.cert.sha256,
    statement,
    signature: sign("sha256", Buffer.from(canonicalJson(statement)), k.privateKey).toString("base64"),
  };
}

describe("round trip", () => {
  test("register, upload, download with ranges, open, receipt, note, result, result receipt; audit chain holds", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const tax = new Api(server.url);
    await tax.login("tax-wang");
    const profile = await newCase(soc, { remarks: "monthly batch (test)" });
    // Receivers: the four KHH-TAX staff (tax-chiu with an EC key: an ECDH recipient); plus the sender's own certificate.
    const emails = profile.recipients.map((r) => r.email).sort();
    expect(emails).toEqual(
      [
        person("soc-chen").email,
        person("tax-chang").email,
        person("tax-chiu").email,
        person("tax-lee").email,
        person("tax-wang").email,
      ].sort(),
    );
    const sealed = await seal(profile, "soc-chen", "payload.p7m");
    const up = await putFile(soc, `/v1/cases/${profile.case.id}/payload`, sealed);
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body.state).toBe("sent");
    const size = statSync(sealed).size;
    expect(up.body.payload.size).toBe(size);

    // The sender cannot download the payload (receiver side only).
    expect((await soc.call("GET", `/v1/cases/${profile.case.id}/payload`)).status).toBe(403);

    // A range request returns exactly those bytes.
    const part = await fetch(`${server.url}/v1/cases/${profile.case.id}/payload`, {
      headers: { authorization: `Bearer ${tax.token}`, range: "bytes=10-99" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-99/${size}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(readFileSync(sealed).subarray(10, 100));
    const bad = await fetch(`${server.url}/v1/cases/${profile.case.id}/payload`, {
      headers: { authorization: `Bearer ${tax.token}`, range: `bytes=${size}-` },
    });
    expect(bad.status).toBe(416);
    await bad.arrayBuffer();

    // HEAD is not a download (no route: 404), so it cannot move the case.
    const head = await fetch(`${server.url}/v1/cases/${profile.case.id}/payload`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${tax.token}` },
    });
    expect(head.status).toBe(404);
    const full = await fetch(`${server.url}/v1/cases/${profile.case.id}/payload`, {
      headers: { authorization: `Bearer ${tax.token}` },
    });
    expect(full.status).toBe(200);
    expect(full.headers.get("accept-ranges")).toBe("bytes");
    const got = join(work, "downloaded.p7m");
    writeFileSync(got, Buffer.from(await full.arrayBuffer()));
    const sha = full.headers.get("x-sealpost-sha256");
    expect(sha).toBe(up.body.payload.sha256);
    const opened = await openFile(got, join(work, "opened.csv"), {
      keys: [keyEntry("tax-wang", "encrypt")],
      trust: trust(),
    });
    expect(readFileSync(join(work, "opened.csv"))).toEqual(readFileSync(BATCH));
    expect(opened.manifest?.caseId).toBe(profile.case.id);

    // A download moves nothing: the case is received by the receiver's signed receipt.
    const shown = await tax.call("GET", `/v1/cases/${profile.case.id}`);
    expect(shown.body.state).toBe("sent");

    // Receipt: a forged signature is refused; the real one is kept and the sender sees it.
    const st = {
      type: "sealpost-receipt",
      caseId: profile.case.id,
      kind: "payload",
      sha256: sha,
      time: new Date().toISOString(),
    };
    const forged = { ...signed("tax-wang", st), statement: { ...st, time: "2020-01-01T00:00:00Z" } };
    expect((await tax.call("POST", `/v1/cases/${profile.case.id}/receipts`, forged)).body.error.code).toBe(
      "BAD_RECEIPT",
    );
    const wrongHash = signed("tax-wang", { ...st, sha256: "0".repeat(64) });
    expect((await tax.call("POST", `/v1/cases/${profile.case.id}/receipts`, wrongHash)).body.error.code).toBe(
      "BAD_RECEIPT",
    );
    const rc = await tax.call("POST", `/v1/cases/${profile.case.id}/receipts`, signed("tax-wang", st));
    expect(rc.status, JSON.stringify(rc.body)).toBe(201);
    expect((await tax.call("GET", `/v1/cases/${profile.case.id}`)).body.state).toBe("received");
    // The same receipt again is answered with the one kept; a different one for the same file is a conflict.
    const repeat = await tax.call("POST", `/v1/cases/${profile.case.id}/receipts`, signed("tax-wang", st));
    expect(repeat.status).toBe(200);
    expect(repeat.body.id).toBe(rc.body.id);
    const later = signed("tax-wang", { ...st, time: new Date(Date.now() + 1000).toISOString() });
    const second = await tax.call("POST", `/v1/cases/${profile.case.id}/receipts`, later);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: "CONFLICT", details: { receiptId: rc.body.id } });
    const receipts = await soc.call("GET", `/v1/cases/${profile.case.id}/receipts`);
    expect(receipts.body).toHaveLength(1);
    const audited = (await rawGet(
      server.ctx.db,
      "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'case.receipt_payload' AND case_id = ?",
      profile.case.id,
    )) as { n: number };
    expect(audited.n).toBe(1);
    expect(receipts.body[0].statement.sha256).toBe(sha);

    expect((await tax.call("POST", `/v1/cases/${profile.case.id}/notes`, { text: "比對中 (matching)" })).status).toBe(
      201,
    );

    // Result: sealed to the result profile (the four KHH-SOC staff, soc-tsai with an EC key), uploaded by the receiver.
    const rp = await tax.call<TransferProfile>("GET", `/v1/cases/${profile.case.id}/result-profile`);
    expect(rp.status).toBe(200);
    expect(rp.body.recipients.map((r) => r.agency)).toEqual(["KHH-SOC", "KHH-SOC", "KHH-SOC", "KHH-SOC"]);
    const result = await seal(rp.body, "tax-wang", "result.p7m");
    const ur = await putFile(tax, `/v1/cases/${profile.case.id}/result`, result);
    expect(ur.status, JSON.stringify(ur.body)).toBe(201);
    expect(ur.body.state).toBe("processed");
    // Notes are closed once processed.
    expect((await tax.call("POST", `/v1/cases/${profile.case.id}/notes`, { text: "late" })).status).toBe(409);

    const dr = await fetch(`${server.url}/v1/cases/${profile.case.id}/result`, {
      headers: { authorization: `Bearer ${soc.token}` },
    });
    expect(dr.status).toBe(200);
    expect(Buffer.from(await dr.arrayBuffer())).toEqual(readFileSync(result));
    const fetched = await soc.call("GET", `/v1/cases/${profile.case.id}`);
    expect(fetched.body.state).toBe("processed");
    expect(fetched.body.notes[0].text).toBe("比對中 (matching)");
    const rr = await soc.call(
      "POST",
      `/v1/cases/${profile.case.id}/receipts`,
      signed("soc-chen", {
        type: "sealpost-receipt",
        caseId: profile.case.id,
        kind: "result",
        sha256: ur.body.result.sha256,
        time: new Date().toISOString(),
      }),
    );
    expect(rr.status, JSON.stringify(rr.body)).toBe(201);
    expect((await soc.call("GET", `/v1/cases/${profile.case.id}`)).body.state).toBe("result_received");

    // Mail notices were queued for the receivers and for the sender.
    const mails = (await rawAll(
      server.ctx.db,
      "SELECT kind, recipients FROM mail_outbox WHERE case_id = ? ORDER BY id",
      profile.case.id,
    )) as {
      kind: string;
      recipients: string;
    }[];
    expect(mails.map((m) => m.kind)).toEqual(["case.sent", "case.processed"]);
    expect(JSON.parse(mails[1]!.recipients)).toEqual([person("soc-chen").email]);

    const actions = (
      (await rawAll(server.ctx.db, "SELECT action FROM audit_log WHERE case_id = ? ORDER BY seq", profile.case.id)) as {
        action: string;
      }[]
    ).map((r) => r.action);
    expect(actions).toEqual([
      "case.register",
      "case.upload_payload",
      "case.download_payload",
      "case.download_payload",
      "case.receipt_payload",
      "case.note",
      "case.upload_result",
      "case.download_result",
      "case.receipt_result",
    ]);
    expect((await verifyAudit(server.ctx.db)).ok).toBe(true);
  });
});

describe("downloads are for the people a file is for", () => {
  test("payload: only the receiving staff named on the case; result: only sending staff it was sealed to (403, nothing recorded)", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const tax = new Api(server.url);
    await tax.login("tax-wang");
    const lee = new Api(server.url);
    await lee.login("tax-lee");
    const lin = new Api(server.url);
    await lin.login("soc-lin");
    const profile = await newCase(soc, { receivers: [person("tax-wang").email] });
    const id = profile.case.id;
    const up = await putFile(soc, `/v1/cases/${id}/payload`, await seal(profile, "soc-chen", "named.p7m"));
    expect(up.status).toBe(201);
    // tax-lee is KHH-TAX staff but not named: refused, and the case is not marked received.
    const denied = await lee.call("GET", `/v1/cases/${id}/payload`);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("FORBIDDEN");
    expect((await soc.call("GET", `/v1/cases/${id}`)).body.state).toBe("sent");
    expect(
      (await fetch(`${server.url}/v1/cases/${id}/payload`, { headers: { authorization: `Bearer ${tax.token}` } }))
        .status,
    ).toBe(200);
    const receipt = signed("tax-wang", {
      type: "sealpost-receipt",
      caseId: id,
      kind: "payload",
      sha256: up.body.payload.sha256,
      time: new Date().toISOString(),
    });
    expect((await tax.call("POST", `/v1/cases/${id}/receipts`, receipt)).status).toBe(201);
    // soc-lin is withdrawn while the result is sealed and uploaded, so it is not sealed to her.
    const linEmail = person("soc-lin").email;
    const a = admin();
    await a.login("ops-wu");
    expect((await a.call("POST", `/v1/admin/staff/${linEmail}/deactivate`)).status).toBe(200);
    try {
      const rp = await tax.call<TransferProfile>("GET", `/v1/cases/${id}/result-profile`);
      expect(rp.body.recipients.map((r) => r.email)).not.toContain(linEmail);
      const ur = await putFile(tax, `/v1/cases/${id}/result`, await seal(rp.body, "tax-wang", "named-result.p7m"));
      expect(ur.status, JSON.stringify(ur.body)).toBe(201);
    } finally {
      expect((await a.call("POST", `/v1/admin/staff/${linEmail}/activate`)).status).toBe(200);
    }
    await lin.login("soc-lin");
    const notSealed = await lin.call("GET", `/v1/cases/${id}/result`);
    expect(notSealed.status).toBe(403);
    expect((await soc.call("GET", `/v1/cases/${id}`)).body.state).toBe("processed");
    const ok = await fetch(`${server.url}/v1/cases/${id}/result`, {
      headers: { authorization: `Bearer ${soc.token}` },
    });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });
});

describe("uploads refused", () => {
  let soc: Api;
  beforeAll(async () => {
    soc = new Api(server.url);
    await soc.login("soc-lin");
  });

  test("sealed to the wrong recipients: 422 RECIPIENTS_MISMATCH naming the missing certificates; case stays registered", async () => {
    const p = await newCase(soc);
    const partial = { ...p, recipients: p.recipients.filter((r) => r.email !== person("tax-lee").email) };
    const sealed = await seal(partial, "soc-lin", "wrong.p7m");
    const r = await putFile(soc, `/v1/cases/${p.case.id}/payload`, sealed);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("RECIPIENTS_MISMATCH");
    expect(r.body.error.details.missing.map((m: { commonName: string }) => m.commonName)).toEqual([
      person("tax-lee").name,
    ]);
    expect((await soc.call("GET", `/v1/cases/${p.case.id}`)).body.state).toBe("registered");
    // An extra recipient (an ops person) is refused too.
    const extra = {
      ...p,
      recipients: [
        ...p.recipients,
        { certificate: { pem: readFileSync(pkiPath(person("ops-liu").encrypt.cert), "utf8") } },
      ],
    };
    const r2 = await putFile(
      soc,
      `/v1/cases/${p.case.id}/payload`,
      await seal(extra as TransferProfile, "soc-lin", "extra.p7m"),
    );
    expect(r2.body.error.code).toBe("RECIPIENTS_MISMATCH");
    expect(r2.body.error.details.unexpected).toHaveLength(1);
    // Both refusals are in the audit trail, with the refused files' hashes.
    const refused = (await rawAll(
      server.ctx.db,
      "SELECT action, file_sha256, detail FROM audit_log WHERE case_id = ? AND action = 'case.payload_refused'",
      p.case.id,
    )) as { file_sha256: string; detail: string }[];
    expect(refused.map((x) => JSON.parse(x.detail).code)).toEqual(["RECIPIENTS_MISMATCH", "RECIPIENTS_MISMATCH"]);
    expect(JSON.parse(refused[0]!.file_sha256)).toHaveLength(1);
    expect(readdir(join(data.dir, "tmp"))).toEqual([]);
  });

  test("recipients named by subjectKeyIdentifier (and EnvelopedData/CBC) match as well", async () => {
    const p = await newCase(soc);
    const out = join(work, "ski.p7m");
    await sealFile(BATCH, out, {
      recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: keyEntry("soc-lin", "sign"),
      recipientIdentifier: "subjectKeyIdentifier",
      cipher: "aes-256-cbc",
    });
    const r = await putFile(soc, `/v1/cases/${p.case.id}/payload`, out);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });

  test("a body that is not CMS: 422 NOT_CMS", async () => {
    const p = await newCase(soc);
    const r = await soc.call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(readFileSync(BATCH)));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("NOT_CMS");
    expect((await soc.call("GET", `/v1/cases/${p.case.id}`)).body.state).toBe("registered");
  });

  test("an oversized body: 413, and nothing left in tmp", async () => {
    const p = await newCase(soc);
    const big = new Uint8Array(MAX_UPLOAD + 1);
    const r = await soc.call("PUT", `/v1/cases/${p.case.id}/payload`, big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    // Without a declared length (chunked), the limit is enforced while streaming.
    const chunked = await fetch(`${server.url}/v1/cases/${p.case.id}/payload`, {
      method: "PUT",
      headers: { authorization: `Bearer ${soc.token}`, "content-type": "application/octet-stream" },
      body: Readable.toWeb(Readable.from([big.subarray(0, 200_000), big.subarray(200_000)])) as ReadableStream,
      duplex: "half",
    } as RequestInit).catch((e: Error) => e);
    if (!(chunked instanceof Error)) expect(chunked.status).toBe(413);
    expect(readdir(join(data.dir, "tmp"))).toEqual([]);
    expect((await soc.call("GET", `/v1/cases/${p.case.id}`)).body.state).toBe("registered");
  });

  test("a truncated body (client stops before Content-Length): nothing recorded, the upload can be retried", async () => {
    const p = await newCase(soc);
    const sealed = await seal(p, "soc-lin", "trunc.p7m");
    const bytes = readFileSync(sealed);
    const u = new URL(`${server.url}/v1/cases/${p.case.id}/payload`);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "PUT",
        headers: {
          authorization: `Bearer ${soc.token}`,
          "content-type": "application/octet-stream",
          "content-length": String(bytes.length),
        },
      });
      req.on("error", () => resolve());
      req.on("response", (res) => {
        res.resume();
        resolve();
      });
      req.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => req.destroy(), 50));
      req.on("close", () => resolve());
    });
    // The server notices the abort asynchronously: wait until its temp file is gone.
    for (let i = 0; i < 100 && readdir(join(data.dir, "tmp")).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(readdir(join(data.dir, "tmp"))).toEqual([]);
    const c = await soc.call("GET", `/v1/cases/${p.case.id}`);
    expect(c.body.state).toBe("registered");
    expect(c.body.payload).toBeUndefined();
    const retry = await putFile(soc, `/v1/cases/${p.case.id}/payload`, sealed);
    expect(retry.status).toBe(201);
  });
});

const readdir = (dir: string): string[] => readdirSync(dir);

describe("purged files stay gone", () => {
  test("identical bytes uploaded again to another case do not make the purged case's file downloadable again", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const tax = new Api(server.url);
    await tax.login("tax-wang");
    /** A case taken to result_received, its result being `result` (sealed here when undefined). */
    const roundTrip = async (name: string, result?: string) => {
      const p = await newCase(soc);
      expect(
        (await putFile(soc, `/v1/cases/${p.case.id}/payload`, await seal(p, "soc-chen", `${name}.p7m`))).status,
      ).toBe(201);
      const dp = await tax.call("GET", `/v1/cases/${p.case.id}/payload`);
      expect(dp.status).toBe(200);
      /** The signed receipt of `who` for the case's `kind` file: it, not the download, moves the case. */
      const receipt = async (api: Api, who: string, kind: "payload" | "result", sha256: string) => {
        const st = { type: "sealpost-receipt", caseId: p.case.id, kind, sha256, time: new Date().toISOString() };
        const r = await api.call("POST", `/v1/cases/${p.case.id}/receipts`, signed(who, st));
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      };
      const shown = await tax.call("GET", `/v1/cases/${p.case.id}`);
      await receipt(tax, "tax-wang", "payload", shown.body.payload.sha256);
      const rp = await tax.call<TransferProfile>("GET", `/v1/cases/${p.case.id}/result-profile`);
      const file = result ?? (await seal(rp.body, "tax-wang", `${name}-result.p7m`));
      const ur = await putFile(tax, `/v1/cases/${p.case.id}/result`, file);
      expect(ur.status, JSON.stringify(ur.body)).toBe(201);
      expect((await soc.call("GET", `/v1/cases/${p.case.id}/result`)).status).toBe(200);
      await receipt(soc, "soc-chen", "result", ur.body.result.sha256);
      return { id: p.case.id, result: file };
    };
    const a = await roundTrip("purge-a");
    expect((await soc.call("GET", `/v1/cases/${a.id}`)).body.state).toBe("result_received");
    const { purgeExpiredFiles } = await import("../src/retention/index.js");
    const purged = await purgeExpiredFiles(server.ctx.db, { store: server.ctx.store, retentionDays: 0 });
    expect(purged.purged.flatMap((f) => f.cases.map((c) => c.caseId))).toContain(a.id);
    expect((await soc.call("GET", `/v1/cases/${a.id}/result`)).body.error.code).toBe("FILE_GONE");

    // The very same sealed result is delivered to another case with the same recipients: accepted there...
    const b = await roundTrip("purge-b", a.result);
    const gotB = await fetch(`${server.url}/v1/cases/${b.id}/result`, {
      headers: { authorization: `Bearer ${soc.token}` },
    });
    expect(gotB.status).toBe(200);
    expect(Buffer.from(await gotB.arrayBuffer())).toEqual(readFileSync(a.result));
    // ...but the purged case's file stays gone.
    const again = await soc.call("GET", `/v1/cases/${a.id}/result`);
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe("FILE_GONE");
  });
});

describe("concurrent uploads to one case", () => {
  test("a second upload while the first is still streaming is refused at once (409 UPLOAD_IN_PROGRESS)", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const p = await newCase(soc);
    const sealed = readFileSync(await seal(p, "soc-chen", "concurrent.p7m"));
    // The first upload sends half of its body and waits.
    const u = new URL(`${server.url}/v1/cases/${p.case.id}/payload`);
    const first = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: "PUT",
      headers: {
        authorization: `Bearer ${soc.token}`,
        "content-type": "application/octet-stream",
        "content-length": String(sealed.length),
      },
    });
    const firstDone = new Promise<{ status: number; body: string }>((resolve, reject) => {
      first.on("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      first.on("error", reject);
    });
    await new Promise<void>((resolve) =>
      first.write(sealed.subarray(0, Math.floor(sealed.length / 2)), () => resolve()),
    );
    for (let i = 0; i < 250 && readdir(join(data.dir, "tmp")).length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(readdir(join(data.dir, "tmp"))).toHaveLength(1);

    const second = await putFile(soc, `/v1/cases/${p.case.id}/payload`, join(work, "concurrent.p7m"));
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("UPLOAD_IN_PROGRESS");
    expect(second.body.error.message).toMatch(/another upload .* in progress/i);
    expect(readdir(join(data.dir, "tmp"))).toHaveLength(1); // the refused one spooled nothing

    first.end(sealed.subarray(Math.floor(sealed.length / 2)));
    const done = await firstDone;
    expect(done.status, done.body).toBe(201);
    // The lease is gone with the first upload: a later one meets the case's state, not the lease.
    expect(await server.ctx.db.read((uow) => uow.leases.get(`upload:${p.case.id}`))).toBeUndefined();
    const later = await putFile(soc, `/v1/cases/${p.case.id}/payload`, join(work, "concurrent.p7m"));
    expect(later.body.error.code).toBe("ILLEGAL_TRANSITION");
  });

  test("a lease left by a dead instance expires: the upload after its expiry goes through and gives it back", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const p = await newCase(soc);
    const file = await seal(p, "soc-chen", "after-crash.p7m");
    const name = `upload:${p.case.id}`;
    // A live lease of another instance refuses the upload; once expired, it is taken over.
    await server.ctx.db.tx((uow) => uow.leases.acquire(name, "other-instance", new Date(), 120_000));
    expect((await putFile(soc, `/v1/cases/${p.case.id}/payload`, file)).body.error.code).toBe("UPLOAD_IN_PROGRESS");
    await server.ctx.db.tx((uow) => uow.leases.release(name, "other-instance"));
    await server.ctx.db.tx((uow) => uow.leases.acquire(name, "crashed", new Date(Date.now() - 200_000), 120_000));
    const up = await putFile(soc, `/v1/cases/${p.case.id}/payload`, file);
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(await server.ctx.db.read((uow) => uow.leases.get(name))).toBeUndefined();
  });
});

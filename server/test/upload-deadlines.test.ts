import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import type { TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, REPO, registerFixtures, startTestServer } from "./helpers.js";

/**
 * Slow clients hold nothing for long (review B7): an upload that falls below the configured progress floor is cut
 * off with UPLOAD_INCOMPLETE "too_slow", its temporary file removed and the case's upload lease given back; headers
 * and JSON bodies dripped byte by byte are cut off by the HTTP deadlines. Concurrent uploads are bounded per staff
 * member and on the relay (review B3). Short deadlines and small limits are configured here.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let work: string;
const BATCH = join(REPO, "fixtures/batches/sample-100.csv");

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir, {
    uploadProgress: { minBytes: 1024, intervalMs: 600 },
    httpTimeouts: { headersMs: 800, bodyMs: 800 },
    uploadLimits: { perStaff: 2, total: 3 },
  });
  work = mkdtempSync(join(tmpdir(), "sealpost-deadlines-"));
  const a = new Api(server.url);
  await a.login("ops-wu");
  await registerFixtures(a);
});
afterAll(async () => {
  await server?.close();
  await data?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function newCase(api: Api): Promise<TransferProfile> {
  const r = await api.call<TransferProfile>("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 100,
    uploadNo: "1150001",
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/** A raw socket to the server that collects what it answers; `closed` resolves with the text when it closes. */
function rawSocket(): { sock: Socket; closed: Promise<string> } {
  const u = new URL(server.url);
  const sock = connect(Number(u.port), u.hostname);
  let answer = "";
  sock.on("data", (d) => {
    answer += d;
  });
  sock.on("error", () => {});
  const closed = new Promise<string>((resolve) => sock.on("close", () => resolve(answer)));
  return { sock, closed };
}

/** Writes `bytes` one at a time every `stepMs` until the socket closes or `limitMs` has passed. */
async function drip(sock: Socket, bytes: () => string, stepMs: number, limitMs: number): Promise<void> {
  const t0 = Date.now();
  while (!sock.destroyed && Date.now() - t0 < limitMs) {
    sock.write(bytes());
    await sleep(stepMs);
  }
}

describe("upload progress floor", () => {
  test("an upload dripping one byte at a time is cut off (UPLOAD_INCOMPLETE too_slow); lease and temp file are gone", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const p = await newCase(soc);
    const { sock, closed } = rawSocket();
    const u = new URL(server.url);
    sock.write(
      `PUT /v1/cases/${p.case.id}/payload HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${soc.token}\r\n` +
        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const header = Buffer.from("3080060b2a864886f70d0109100117a080", "hex");
    sock.write(`${header.length.toString(16)}\r\n`);
    sock.write(header);
    sock.write("\r\n");
    for (let i = 0; i < 100 && readdirSync(join(data.dir, "tmp")).length === 0; i++) await sleep(20);
    expect(readdirSync(join(data.dir, "tmp"))).toHaveLength(1);
    const t0 = Date.now();
    await drip(sock, () => "1\r\n0\r\n", 100, 10_000);
    const answer = await closed;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
    expect(answer).toContain('"code":"UPLOAD_INCOMPLETE"');
    expect(answer).toContain('"reason":"too_slow"');
    expect(readdirSync(join(data.dir, "tmp"))).toHaveLength(0);
    expect(await server.ctx.db.read((uow) => uow.leases.get(`upload:${p.case.id}`))).toBeUndefined();

    // The case takes a real upload at once afterwards.
    const out = join(work, "after-slow.p7m");
    await sealFile(BATCH, out, {
      recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: keyEntry("soc-chen", "sign"),
      manifest: { caseId: p.case.id, senderAgency: p.case.senderAgency, recordCount: 100 },
    });
    const r = await fetch(`${server.url}/v1/cases/${p.case.id}/payload`, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${soc.token}`,
        "content-type": "application/octet-stream",
        "content-length": String(statSync(out).size),
      },
      body: Readable.toWeb(createReadStream(out)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    expect(r.status, await r.clone().text()).toBe(201);
  });
});

describe("HTTP deadlines", () => {
  test("headers dripped byte by byte: 408 and the connection is closed", async () => {
    const { sock, closed } = rawSocket();
    sock.write("GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n");
    const t0 = Date.now();
    void drip(sock, () => "X", 100, 10_000);
    const answer = await closed;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
  });

  test("a JSON body dripped byte by byte: the connection is closed after the body deadline", async () => {
    const soc = new Api(server.url);
    await soc.login("soc-chen");
    const { sock, closed } = rawSocket();
    const u = new URL(server.url);
    sock.write(
      `POST /v1/cases HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${soc.token}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
    );
    const t0 = Date.now();
    void drip(sock, () => " ", 100, 10_000);
    await closed;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(sock.destroyed).toBe(true);
  });
});

/** An upload that keeps streaming (4 KiB every 100 ms, above the progress floor) until stopped. */
async function holdUpload(api: Api, caseId: string): Promise<{ stop(): Promise<void> }> {
  const { sock, closed } = rawSocket();
  const u = new URL(server.url);
  sock.write(
    `PUT /v1/cases/${caseId}/payload HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${api.token}\r\n` +
      "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
  );
  const chunk = Buffer.alloc(4096, 0x30);
  const send = () => {
    if (!sock.destroyed) sock.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
  };
  send();
  const timer = setInterval(send, 100);
  return {
    async stop() {
      clearInterval(timer);
      sock.destroy();
      await closed;
    },
  };
}

async function waitFor(what: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!(await what())) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await sleep(20);
  }
}

const tmpCount = () => readdirSync(join(data.dir, "tmp")).length;

describe("concurrent upload limits", () => {
  test("a third upload of one staff member, and one past the relay's total, are refused before any byte is spooled", async () => {
    const chen = new Api(server.url);
    await chen.login("soc-chen");
    const lin = new Api(server.url);
    await lin.login("soc-lin");
    const [a, b, c] = [await newCase(chen), await newCase(chen), await newCase(chen)];
    const [d, e] = [await newCase(lin), await newCase(lin)];
    const held = [await holdUpload(chen, a.case.id), await holdUpload(chen, b.case.id)];
    await waitFor(() => tmpCount() === 2);

    const third = await chen.call("PUT", `/v1/cases/${c.case.id}/payload`, new Uint8Array(10));
    expect(third.status).toBe(409);
    expect(third.body.error.code).toBe("UPLOAD_IN_PROGRESS");
    expect(third.body.error.details).toMatchObject({ scope: "staff", limit: 2 });
    expect(third.body.error.hint).toMatch(/wait until one of your uploads/i);
    // The refusal keeps no lease of its case.
    expect(await server.ctx.db.read((uow) => uow.leases.get(`upload:${c.case.id}`))).toBeUndefined();

    held.push(await holdUpload(lin, d.case.id));
    await waitFor(() => tmpCount() === 3);
    const past = await lin.call("PUT", `/v1/cases/${e.case.id}/payload`, new Uint8Array(10));
    expect(past.status).toBe(409);
    expect(past.body.error.details).toMatchObject({ scope: "relay", limit: 3 });
    expect(tmpCount()).toBe(3);

    for (const h of held) await h.stop();
    await waitFor(() => tmpCount() === 0);
    await waitFor(async () => (await server.ctx.db.read((uow) => uow.leases.get("upload:all:0"))) === undefined);
    // With the slots back, the same staff member's upload is read again (a 10-byte file is not CMS: 422).
    const again = await chen.call("PUT", `/v1/cases/${c.case.id}/payload`, new Uint8Array(10));
    expect(again.body.error.code).toBe("NOT_CMS");
  });
});

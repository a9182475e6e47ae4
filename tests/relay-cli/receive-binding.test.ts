import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import type { SealpostClient } from "@sealpost/client";
import { fileBody } from "@sealpost/client/node";
import type { TransferManifest } from "@sealpost/protocol";
import type { RunningServer } from "@sealpost/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { manifestMismatch, signerMismatch } from "../../cli/src/remote/binding.js";
import { bin, clientAs, keyOf, M, pki, registerFixtureRegistry, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * `sealpost receive` binds the opened file to the case it was downloaded for: every case field the sender's signed
 * manifest carries (case id, agencies, upload number) must be the case's. Real server (in-process, loopback), real
 * sealed files (@sealpost/cms), the real `sealpost` binary as the receiver.
 */

let relay: TestRelay;
let work: string;
let server: RunningServer;
let soc: SealpostClient;

beforeAll(async () => {
  relay = await startRelay("sealpost-binding-");
  ({ work, server } = relay);
  await registerFixtureRegistry(server.url);
  soc = await clientAs(server.url, "soc-chen");
});
afterAll(async () => {
  await relay?.close();
});

/**
 * Registers a case (upload number U-7) and uploads a file sealed to its recipients with `manifest` (or the manifest
 * made from the new case's id), to that case and then to the cases `alsoTo`.
 */
async function caseWithManifest(
  manifest: TransferManifest | ((id: string) => TransferManifest),
  signer = "soc-chen",
  alsoTo: string[] = [],
): Promise<string> {
  const profile = await soc.createCase({
    body: { category: "C", receivingAgency: "KHH-TAX", recordCount: 2, uploadNo: "U-7" },
  });
  const plain = join(work, `plain-${profile.case.id}.csv`);
  writeFileSync(plain, "id,name\n1,王小明\n2,林美華\n");
  const sealed = join(work, `${profile.case.id}.p7m`);
  await sealFile(plain, sealed, {
    recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
    signer: await keyOf(signer),
    manifest: { fileName: "batch.csv", ...(typeof manifest === "function" ? manifest(profile.case.id) : manifest) },
  });
  const { body, size } = await fileBody(sealed);
  await soc.upload("payload", profile.case.id, body, { size });
  for (const other of alsoTo) {
    const again = await fileBody(sealed);
    await soc.upload("payload", other, again.body, { size: again.size });
  }
  return profile.case.id;
}

/** `sealpost --json receive ID -o OUT` as tax-wang, logged in to the relay, then receiving through `url`. */
async function receive(
  id: string,
  out: string,
  url = server.url,
): Promise<{ code: number; json: Record<string, unknown> }> {
  const p = M.people["tax-wang"];
  const home = join(work, "home");
  mkdirSync(home, { recursive: true });
  const config = join(home, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: server.url,
      trust: [pki(M.root.cert)],
      intermediates: [pki(M.intermediate.cert)],
      crls: [pki(M.intermediate.crl), pki(M.root.crl)],
      keystore: pki(p.p12),
    }),
  );
  const env = { ...process.env, SEALPOST_CONFIG: config, SEALPOST_PIN: p.pin };
  const run = async (args: string[]) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const [code] = (await once(child, "close")) as [number];
    return { code, stdout };
  };
  expect((await run(["login"])).code).toBe(0);
  if (url !== server.url) {
    // The login names the relay's own origin; the session is then pointed at `url` (a relay in front of it).
    const session = join(home, "session.json");
    const kept = JSON.parse(readFileSync(session, "utf8")) as { logins: Record<string, { server: string }> };
    const [key, login] = Object.entries(kept.logins)[0]!;
    const moved = (u: string) => u.replace(new URL(u).origin, url);
    writeFileSync(session, JSON.stringify({ logins: { [moved(key)]: { ...login, server: moved(login.server) } } }));
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, "utf8")), server: url }));
  }
  const r = await run(["--json", "receive", id, "-o", out]);
  return { code: r.code, json: JSON.parse(r.stdout) };
}

/**
 * A relay that lies (a modified relay run by a hostile operator): passes everything through to the real relay,
 * except that `GET /v1/cases/<asked>` is answered with case `real`'s details.
 */
async function lyingRelay(asked: string, real: string): Promise<{ url: string; close(): Promise<void> }> {
  const up = new URL(server.url);
  const proxy: Server = createServer((req, res) => {
    const path = req.url === `/v1/cases/${asked}` ? `/v1/cases/${real}` : req.url;
    const p = request(
      { host: up.hostname, port: up.port, method: req.method, path, headers: { ...req.headers, host: up.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    p.on("error", () => res.destroy());
    req.pipe(p);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => new Promise((done) => proxy.close(() => done())),
  };
}

describe("receive: the file's manifest must name the case", () => {
  test("a relay that answers case C with case A's details and serves A's file for C is refused (exit 6), nothing written, no receipt", async () => {
    const c = (
      await soc.createCase({ body: { category: "C", receivingAgency: "KHH-TAX", recordCount: 2, uploadNo: "U-8" } })
    ).case.id;
    // A's file (its signed manifest names case A) is put under case C too, as a database writer would.
    const a = await caseWithManifest(
      (id) => ({ caseId: id, senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", uploadNo: "U-7" }),
      "soc-chen",
      [c],
    );
    const liar = await lyingRelay(c, a);
    try {
      const out = join(work, "in-lie");
      const r = await receive(c, out, liar.url);
      expect(r.code).toBe(6);
      expect(r.json).toMatchObject({ ok: false, error: { code: "FILE_NOT_FOR_CASE" } });
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
      expect(await soc.listReceipts({ params: { id: c } })).toEqual([]);
      expect((await soc.getCase({ params: { id: c } })).status).not.toBe("received");
    } finally {
      await liar.close();
    }
  });

  test("a file whose signed manifest names another upload number is refused (exit 6) and nothing is left", async () => {
    const id = await caseWithManifest({ senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", uploadNo: "U-999" });
    const out = join(work, "in-wrong");
    const r = await receive(id, out);
    expect(r.code).toBe(6);
    expect(r.json).toMatchObject({ ok: false, error: { code: "FILE_NOT_FOR_CASE" } });
    expect(readdirSync(out)).toEqual([]);
  });

  test("a file whose manifest matches the case opens (a manifest without a case id is accepted)", async () => {
    const id = await caseWithManifest({ senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", uploadNo: "U-7" });
    const out = join(work, "in-ok");
    const r = await receive(id, out);
    expect(r.code).toBe(0);
    expect(readFileSync(String(r.json.file), "utf8")).toContain("王小明");
  });

  test("a file signed by someone else than its uploader (a trusted card, not the sender's) is refused (exit 7), removed, no receipt", async () => {
    // soc-lin's signing certificate chains to the same root, but soc-chen uploaded the file.
    const id = await caseWithManifest(
      { senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", uploadNo: "U-7" },
      "soc-lin",
    );
    const c = await soc.getCase({ params: { id } });
    const chenSign = parseCertificate(readFileSync(pki(M.people["soc-chen"].sign.cert), "utf8")).sha256;
    expect(c.payload?.uploadedBy).toEqual({
      staffId: expect.any(String),
      agency: "KHH-SOC",
      signingCertSha256: [chenSign],
    });
    const out = join(work, "in-not-sender");
    const r = await receive(id, out);
    expect(r.code).toBe(7);
    expect(r.json).toMatchObject({ ok: false, error: { code: "SIGNER_NOT_SENDER" } });
    expect(readdirSync(out)).toEqual([]);
    expect(await soc.listReceipts({ params: { id } })).toEqual([]);
  });

  test("signerMismatch: the signer must be a registered signing certificate of the uploader, on the right side", () => {
    const by = { staffId: "s1", agency: "KHH-SOC", signingCertSha256: ["aa".repeat(32)] };
    const file = { sha256: "f", size: 1, uploadedAt: "t" };
    const c = { senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", payload: { ...file, uploadedBy: by } };
    expect(signerMismatch("AA".repeat(32), "payload", c)).toBeUndefined();
    expect(signerMismatch("bb".repeat(32), "payload", c)).toMatch(/not a registered signing certificate/);
    expect(signerMismatch(undefined, "payload", c)).toMatch(/not signed/);
    expect(signerMismatch("aa".repeat(32), "result", c)).toMatch(/does not say who uploaded/);
    // A result must come from the receiving agency's staff.
    expect(signerMismatch("aa".repeat(32), "result", { ...c, result: { ...file, uploadedBy: by } })).toMatch(
      /uploaded by staff of KHH-SOC, not of KHH-TAX/,
    );
  });

  test("manifestMismatch names the first field that differs", () => {
    const c = { id: "C1", senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", uploadNo: "U-7" };
    expect(manifestMismatch(undefined, c)).toBeUndefined();
    expect(manifestMismatch({ fileName: "x.csv" }, c)).toBeUndefined();
    expect(manifestMismatch({ caseId: "C2" }, c)).toEqual({ field: "caseId", inFile: "C2", inCase: "C1" });
    expect(manifestMismatch({ receivingAgency: "KHH-EDU" }, c)?.field).toBe("receivingAgency");
    expect(manifestMismatch({ senderAgency: "KHH-SOC", uploadNo: "U-7", caseId: "C1" }, c)).toBeUndefined();
  });
});

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sealFile } from "@sealpost/cms";
import { loadKeystore, parseCertificate, pickKey } from "@sealpost/pki";
import type { TransferProfile } from "@sealpost/protocol";
import { initDataDir, type RunningServer, silentLogger, startServer } from "@sealpost/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RemoteClient } from "../src/remote/client.js";

/** The CLI's HTTP client against a real server: login by signature, streamed upload, resumed download. */

const REPO = resolve(import.meta.dirname, "../..");
const PKI = join(REPO, "fixtures/pki");
const M = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
const pki = (p: string) => join(PKI, p);
let work: string;
let server: RunningServer;

const keyOf = async (id: string) =>
  pickKey(await loadKeystore(pki(M.people[id].p12), { pin: M.people[id].pin }), "sign");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sealpost-client-"));
  const admin = M.people["ops-wu"];
  await initDataDir({
    data: join(work, "data"),
    trust: pki(M.root.cert),
    intermediates: pki(M.intermediate.cert),
    crl: [pki(M.intermediate.crl), pki(M.root.crl)],
    adminCert: pki(admin.sign.cert),
    adminEmail: admin.email,
    adminAgency: admin.agency,
    log: silentLogger,
  });
  server = await startServer(join(work, "data"), { listen: "127.0.0.1:0", log: silentLogger });
});
afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("an interrupted download resumes with a Range request and ends with the whole file, hash checked", async () => {
  const admin = new RemoteClient(server.url);
  await admin.login(await keyOf("ops-wu"));
  for (const code of ["KHH-SOC", "KHH-TAX"]) {
    await admin.json("POST", "/v1/admin/agencies", {
      code,
      name: M.agencies[code].name,
      email: M.agencies[code].email,
    });
  }
  for (const id of ["soc-chen", "tax-wang"]) {
    const p = M.people[id];
    await admin.json("POST", "/v1/admin/staff", { agency: p.agency, name: p.name, email: p.email });
    for (const purpose of ["sign", "encrypt"]) {
      await admin.json("POST", "/v1/admin/certificates", {
        staff: p.email,
        pem: readFileSync(pki(p[purpose].cert), "utf8"),
      });
    }
  }
  await admin.json("POST", "/v1/admin/categories", { code: "C", name: "c", purpose: "test" });
  const soc = new RemoteClient(`${server.url}/`);
  await soc.login(await keyOf("soc-chen"));
  const profile = await soc.json<TransferProfile>("POST", "/v1/cases", {
    category: "C",
    receivingAgency: "KHH-TAX",
    recordCount: 1,
    uploadNo: "1",
  });
  const plain = join(work, "plain.bin");
  writeFileSync(plain, Buffer.alloc(300_000, 7));
  const sealed = join(work, "sealed.p7m");
  await sealFile(plain, sealed, {
    recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
    signer: await keyOf("soc-chen"),
  });
  let sent = 0;
  const up = await soc.upload<{ state: string }>(`/v1/cases/${profile.case.id}/payload`, sealed, (n) => (sent = n));
  expect(up.state).toBe("sent");
  expect(sent).toBe(statSync(sealed).size);

  const tax = new RemoteClient(server.url);
  await tax.login(await keyOf("tax-wang"));
  const part = join(work, "download.part");
  // What an interrupted download leaves: the first 100,000 bytes.
  const whole = readFileSync(sealed);
  writeFileSync(part, whole.subarray(0, 100_000));
  const dl = await tax.download(`/v1/cases/${profile.case.id}/payload`, part, undefined, { resume: true });
  expect(dl.resumedFrom).toBe(100_000);
  expect(readFileSync(part)).toEqual(whole);
  const audit = server.ctx.db
    .prepare("SELECT detail FROM audit_log WHERE case_id = ? AND action = 'case.download_payload'")
    .all(profile.case.id) as { detail: string }[];
  expect(JSON.parse(audit[0]!.detail).range).toBe("bytes=100000-");

  // A corrupted partial file is caught by the hash check and removed.
  writeFileSync(part, Buffer.alloc(100_000, 1));
  await expect(
    tax.download(`/v1/cases/${profile.case.id}/payload`, part, undefined, { resume: true }),
  ).rejects.toMatchObject({
    code: "HASH_MISMATCH",
    exitCode: 6,
  });
  expect(() => statSync(part)).toThrow();
  // A complete file asked for "the rest" (416) is fetched whole again.
  writeFileSync(part, whole);
  const again = await tax.download(`/v1/cases/${profile.case.id}/payload`, part, undefined, { resume: true });
  expect(again.resumedFrom).toBe(0);
  expect(readFileSync(part)).toEqual(whole);

  // Server refusals carry the server's code and the CLI's exit code.
  await expect(tax.json("POST", `/v1/cases/${profile.case.id}/cancel`, {})).rejects.toMatchObject({
    code: "FORBIDDEN",
    exitCode: 11,
  });
  await expect(new RemoteClient("http://127.0.0.1:1").json("GET", "/v1/cases")).rejects.toMatchObject({
    code: "SERVER_UNREACHABLE",
    exitCode: 10,
  });
});

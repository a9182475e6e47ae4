import { readFileSync } from "node:fs";
import type { CertificateCheckDto } from "@sealpost/protocol";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, MANIFEST, person, pkiPath, startTestServer } from "./helpers.js";

/**
 * POST /v1/admin/certificates/check: what the admin sees of a certificate before registering it (fields, key usage,
 * validity, the trust check registration runs), with nothing stored.
 */

const TROUBLED = (MANIFEST as unknown as { troubled: Record<string, { cert: string }> }).troubled;
let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let admin: Api;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  admin = new Api(server.url);
  await admin.login("ops-wu");
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

const pem = (p: string) => readFileSync(pkiPath(p), "utf8");
const check = (body: unknown) => admin.call<CertificateCheckDto>("POST", "/v1/admin/certificates/check", body);

test("a good encryption certificate: its fields, purpose from the key usage, trusted, not registered; then registered", async () => {
  const wang = person("tax-wang");
  const r = await check({ pem: pem(wang.encrypt.cert) });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.commonName).toBe(wang.name);
  expect(r.body.subject).toContain(wang.name);
  expect(r.body.purpose).toBe("encrypt");
  expect(r.body.keyUsage).toContain("keyEncipherment");
  expect(r.body.keyType).toBe("rsa");
  expect(r.body.trusted).toBe(true);
  expect(r.body.problem).toBeUndefined();
  expect(r.body.registered).toBe(false);
  expect(r.body.daysLeft).toBeGreaterThan(30);
  expect(Date.parse(r.body.notAfter)).toBeGreaterThan(Date.parse(r.body.notBefore));
  // Nothing was stored by the check.
  expect(
    (await admin.call("GET", "/v1/admin/certificates")).body.map((c: { sha256: string }) => c.sha256),
  ).not.toContain(r.body.sha256);
  await admin.client.addAgency({ body: { code: "KHH-TAX", name: "高雄市稅捐稽徵處", email: "tax@khh.example" } });
  await admin.client.addStaff({ body: { agency: "KHH-TAX", name: wang.name, email: wang.email } });
  await admin.client.addCertificate({ body: { staff: wang.email, pem: pem(wang.encrypt.cert) } });
  expect((await check({ pem: pem(wang.encrypt.cert) })).body.registered).toBe(true);
});

test("refused certificates come back with the reason registration would give, and are not stored", async () => {
  const cases: { cert: string; purpose?: "sign" | "encrypt"; want: string[] }[] = [
    { cert: TROUBLED.expired!.cert, want: ["EXPIRED"] },
    { cert: TROUBLED.revoked!.cert, want: ["REVOKED"] },
    { cert: TROUBLED.sign_only_usage!.cert, purpose: "encrypt", want: ["KEY_USAGE"] },
    { cert: TROUBLED.impostor!.cert, purpose: "sign", want: ["UNTRUSTED", "BAD_CERT_SIGNATURE"] },
  ];
  for (const c of cases) {
    const r = await check({ pem: pem(c.cert), ...(c.purpose ? { purpose: c.purpose } : {}) });
    expect(r.status, c.cert).toBe(200);
    expect(r.body.trusted, c.cert).toBe(false);
    expect(c.want, c.cert).toContain(r.body.problem?.code);
    expect(r.body.problem?.message.length, c.cert).toBeGreaterThan(0);
  }
  const expired = await check({ pem: pem(TROUBLED.expired!.cert) });
  expect(expired.body.daysLeft).toBeLessThan(0);
  const listed = (await admin.call("GET", "/v1/admin/certificates")).body as { sha256: string }[];
  expect(listed.map((c) => c.sha256)).not.toContain(expired.body.sha256);
});

test("unreadable PEM, a bad purpose: 400; a staff member: 403", async () => {
  for (const body of [{ pem: "not a certificate" }, { pem: "" }, { pem: 42 }, "x"]) {
    const r = await check(body);
    expect(r.status, JSON.stringify(body)).toBe(400);
    expect(r.body.error.code).toBe("BAD_REQUEST");
  }
  const bad = await check({ pem: pem(person("tax-wang").encrypt.cert), purpose: "decrypt" });
  expect(bad.status).toBe(400);
  await admin.client.addCertificate({
    body: { staff: person("tax-wang").email, pem: pem(person("tax-wang").sign.cert) },
  });
  const staff = new Api(server.url);
  await staff.login("tax-wang");
  const r = await staff.call("POST", "/v1/admin/certificates/check", { pem: pem(person("tax-wang").sign.cert) });
  expect(r.status).toBe(403);
});

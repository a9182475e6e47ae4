import { readFileSync } from "node:fs";
import type { TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, MANIFEST, person, pkiPath, registerFixtures, startTestServer } from "./helpers.js";
import { issueTestCertificate } from "../../tests/helpers/issue-cert.js";
import { rawAll, rawRun } from "./helpers/sql.js";

/**
 * Certificate registration against the trust anchors (fixture CRLs, revocation "require"), and how registered
 * certificates feed transfer profiles: renewal (two active certificates), revocation, expiry.
 */

const TROUBLED = (MANIFEST as unknown as { troubled: Record<string, { cert: string }> }).troubled;
let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
const admin = () => apis.admin;
const apis = {} as { admin: Api; soc: Api };

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  apis.admin = new Api(server.url);
  await apis.admin.login("ops-wu");
  await registerFixtures(apis.admin);
  apis.soc = new Api(server.url);
  await apis.soc.login("soc-chen");
  const r = await admin().call("POST", "/v1/admin/staff", {
    agency: "KHH-TAX",
    name: "測試人員",
    email: "probe@tax.khh.example",
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

const pem = (p: string) => readFileSync(pkiPath(p), "utf8");

describe("registration refuses certificates the trust policy refuses", () => {
  const CASES: { name: string; cert: string; purpose: "sign" | "encrypt"; want: string[] }[] = [
    { name: "expired", cert: TROUBLED.expired!.cert, purpose: "encrypt", want: ["EXPIRED"] },
    { name: "not yet valid", cert: TROUBLED.not_yet_valid!.cert, purpose: "encrypt", want: ["NOT_YET_VALID"] },
    { name: "revoked (CRL)", cert: TROUBLED.revoked!.cert, purpose: "encrypt", want: ["REVOKED"] },
    { name: "on hold (CRL)", cert: TROUBLED.on_hold!.cert, purpose: "sign", want: ["ON_HOLD"] },
    {
      name: "signing-only as encryption",
      cert: TROUBLED.sign_only_usage!.cert,
      purpose: "encrypt",
      want: ["KEY_USAGE"],
    },
    {
      name: "encryption-only as signing",
      cert: TROUBLED.encrypt_only_usage!.cert,
      purpose: "sign",
      want: ["KEY_USAGE"],
    },
    {
      name: "RSA-1024 / SHA-1",
      cert: TROUBLED.rsa1024_sha1!.cert,
      purpose: "encrypt",
      want: ["WEAK_KEY", "WEAK_ALGORITHM"],
    },
    {
      name: "self-signed impostor",
      cert: TROUBLED.impostor!.cert,
      purpose: "sign",
      want: ["UNTRUSTED", "BAD_CERT_SIGNATURE"],
    },
  ];
  test.each(CASES.map((c) => [c.name, c] as const))("%s", async (_n, c) => {
    const r = await admin().call("POST", "/v1/admin/certificates", {
      staff: "probe@tax.khh.example",
      pem: pem(c.cert),
      purpose: c.purpose,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error.code).toBe("CERT_REJECTED");
    expect(c.want).toContain(r.body.error.details.pkiCode);
    const listed = await admin().call("GET", "/v1/admin/certificates?staff=probe@tax.khh.example");
    expect(listed.body).toEqual([]);
  });

  test("the same certificate twice: 409 CONFLICT", async () => {
    const r = await admin().call("POST", "/v1/admin/certificates", {
      staff: person("tax-wang").email,
      pem: pem(person("tax-wang").encrypt.cert),
    });
    expect(r.status).toBe(409);
  });

  test("staff e-mail addresses that would smuggle extra mail recipients are refused", async () => {
    for (const email of ["a@b.example, c@d.example", "a;b@c.example", '"x"@y.example', "no-at-sign"]) {
      const r = await admin().call("POST", "/v1/admin/staff", { agency: "KHH-TAX", name: "x", email });
      expect(r.status, email).toBe(400);
    }
  });

  test("purpose defaults from the key usage", async () => {
    // The certificate's holder, registered under the name and address it carries.
    const holder = await admin().call("POST", "/v1/admin/staff", {
      agency: "KHH-TAX",
      name: "謝明哲",
      email: "hsieh@tax.khh.example",
    });
    expect(holder.status).toBe(201);
    const r = await admin().call("POST", "/v1/admin/certificates", {
      staff: "hsieh@tax.khh.example",
      pem: pem(TROUBLED.sign_only_usage!.cert),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.purpose).toBe("sign");
  });
});

describe("registered certificates in profiles", () => {
  const wangEncrypt = () =>
    profileFor().then((p) =>
      p.recipients.filter((r) => r.email === person("tax-wang").email).map((r) => r.certificate.sha256),
    );
  const profileFor = async (): Promise<TransferProfile> => {
    const r = await apis.soc.call<TransferProfile>("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "R-1",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };

  test("renewal: two active encryption certificates are both recipients; revoking one removes it; expiry too", async () => {
    expect(await wangEncrypt()).toHaveLength(1);
    // A second card (a new good certificate issued to the same person) registered for them.
    const now = Date.now();
    const renewed = issueTestCertificate({
      dir: data.dir,
      name: "wang-renewed",
      subject: "/C=TW/O=高雄市稅捐稽徵處/OU=KHH-TAX/CN=王建民",
      email: person("tax-wang").email,
      usage: "encrypt",
      notBefore: new Date(now - 86_400_000),
      notAfter: new Date(now + 30 * 86_400_000),
    });
    const add = await admin().call("POST", "/v1/admin/certificates", {
      staff: person("tax-wang").email,
      pem: readFileSync(renewed.cert, "utf8"),
      purpose: "encrypt",
    });
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    const both = await wangEncrypt();
    expect(both).toHaveLength(2);
    expect(both).toContain(add.body.sha256);
    // The old card's certificate expires (its notAfter moved into the past in the registry).
    const old = (await wangEncrypt()).find((s) => s !== add.body.sha256)!;
    await rawRun(server.ctx.db, "UPDATE certificates SET not_after = '2021-01-01T00:00:00.000Z' WHERE sha256 = ?", old);
    expect(await wangEncrypt()).toEqual([add.body.sha256]);
    const listed = await admin().call("GET", `/v1/admin/certificates?staff=${person("tax-wang").email}`);
    expect(listed.body.find((c: { sha256: string }) => c.sha256 === old).status).toBe("expired");
    // The status change is in the audit trail, once.
    const expiries = (await rawAll(
      server.ctx.db,
      "SELECT actor, action, detail FROM audit_log WHERE action = 'cert.expire'",
    )) as { actor: string; detail: string }[];
    expect(expiries).toHaveLength(1);
    expect(expiries[0]!.actor).toBe("system");
    expect(JSON.parse(expiries[0]!.detail)).toMatchObject({ sha256: old, purpose: "encrypt" });
    // Revoking the new one leaves tax-wang without an encryption certificate: left out by default...
    expect(
      (await admin().call("POST", `/v1/admin/certificates/${add.body.id}/revoke`, { reason: "test" })).status,
    ).toBe(200);
    expect(await wangEncrypt()).toEqual([]);
    // ...and refused when named explicitly.
    const named = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "R-2",
      receivers: [person("tax-wang").email],
    });
    expect(named.status).toBe(422);
    expect(named.body.error.code).toBe("NO_RECIPIENTS");
    // Revoking twice is a conflict.
    expect((await admin().call("POST", `/v1/admin/certificates/${add.body.id}/revoke`, {})).status).toBe(409);
  });

  test("a retired category and an unknown agency are refused", async () => {
    const a = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "NOPE",
      recordCount: 1,
      uploadNo: "x",
    });
    expect(a.status).toBe(404);
    expect((await admin().call("POST", "/v1/admin/categories/WELFARE-TAX/deactivate")).status).toBe(200);
    const c = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "x",
    });
    expect(c.status).toBe(400);
    expect(c.body.error.message).toContain("no longer in use");
  });

  test("a withdrawn agency: its staff are logged out and cannot log in; it cannot receive cases; its cases stay", async () => {
    const lee = new Api(server.url);
    await lee.login("tax-lee");
    const before = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX-2",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "W-1",
    });
    expect(before.status).toBe(404); // no such category: make one
    expect(
      (await admin().call("POST", "/v1/admin/categories", { code: "WELFARE-TAX-2", name: "查調", purpose: "test" }))
        .status,
    ).toBe(201);
    const c = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX-2",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "W-1",
    });
    expect(c.status).toBe(201);
    const w = await admin().call("POST", "/v1/admin/agencies/KHH-TAX/deactivate");
    expect(w.status).toBe(200);
    expect(w.body.active).toBe(false);
    expect((await lee.call("GET", "/v1/auth/whoami")).status).toBe(401);
    await expect(new Api(server.url).login("tax-lee")).rejects.toThrow(/LOGIN_FAILED/);
    const again = await apis.soc.call("POST", "/v1/cases", {
      category: "WELFARE-TAX-2",
      receivingAgency: "KHH-TAX",
      recordCount: 1,
      uploadNo: "W-2",
    });
    expect(again.status).toBe(400);
    expect((await apis.soc.call("GET", `/v1/cases/${c.body.case.id}`)).status).toBe(200);
    expect((await apis.soc.call("GET", "/v1/agencies")).body.map((a: { code: string }) => a.code)).not.toContain(
      "KHH-TAX",
    );
    expect((await admin().call("POST", "/v1/admin/agencies/KHH-TAX/deactivate")).status).toBe(409);
    // An admin cannot withdraw their own agency.
    expect((await admin().call("POST", "/v1/admin/agencies/SEALPOST-OPS/deactivate")).status).toBe(400);
  });
});

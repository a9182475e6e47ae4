import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { issueTestCertificate } from "../../tests/helpers/issue-cert.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, MANIFEST, person, pkiPath, registerFixtures, startTestServer } from "./helpers.js";
import { rawGet } from "./helpers/sql.js";

/**
 * A registered certificate is bound to its person (a real server over a socket): another person's certificate, a
 * made-up staff member, a subject without the agency's rules, or a different e-mail address are refused with 422
 * CERT_NOT_PERSON naming both the certificate's subject and the staff record; nothing is registered. Agency subject
 * rules are set and changed through the admin API.
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
  await registerFixtures(admin);
});
afterAll(async () => {
  await server?.close();
  await data?.cleanup();
});

const pem = (p: string) => readFileSync(pkiPath(p), "utf8");
const certCount = async () =>
  Number(((await rawGet(server.ctx.db, "SELECT count(*) AS n FROM certificates")) as { n: number }).n);
const certAdds = async () =>
  Number(
    ((await rawGet(server.ctx.db, "SELECT count(*) AS n FROM audit_log WHERE action = 'cert.add'")) as { n: number }).n,
  );

async function addStaff(agency: string, name: string, email: string): Promise<void> {
  const r = await admin.call("POST", "/v1/admin/staff", { agency, name, email });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

/** Posts the certificate for `staff` and expects 422 CERT_NOT_PERSON with nothing registered; returns the error. */
async function refused(staff: string, certPem: string, purpose?: "sign" | "encrypt") {
  const [before, audited] = [await certCount(), await certAdds()];
  const r = await admin.call("POST", "/v1/admin/certificates", {
    staff,
    pem: certPem,
    ...(purpose ? { purpose } : {}),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(422);
  expect(r.body.error.code).toBe("CERT_NOT_PERSON");
  expect(await certCount()).toBe(before);
  expect(await certAdds()).toBe(audited);
  return r.body.error as {
    message: string;
    details: {
      certificate: { subject: string; commonName: string; emails: string[] };
      staff: { name: string; email: string; agency: string };
      agencySubjectRules: string[];
      problems: { check: string }[];
    };
  };
}

describe("admin cert add refuses a certificate that does not name the staff member", () => {
  test("another person's encryption certificate registered for a staff member", async () => {
    const wang = person("tax-wang");
    const lee = person("tax-lee");
    const e = await refused(wang.email, pem(lee.encrypt.cert), "encrypt");
    // Both sides are shown: the certificate's subject and the staff record.
    expect(e.message).toContain(`CN=${lee.name}`);
    expect(e.message).toContain(`${wang.name} <${wang.email}>`);
    expect(e.details.certificate).toMatchObject({ commonName: lee.name, emails: [lee.email] });
    expect(e.details.certificate.subject).toContain("O=高雄市稅捐稽徵處");
    expect(e.details.staff).toMatchObject({ name: wang.name, email: wang.email, agency: wang.agency });
    expect(e.details.problems.map((p) => p.check).sort()).toEqual(["email", "name"]);
    // tax-wang's profile still holds only the own certificate.
    const listed = await admin.call("GET", `/v1/admin/certificates?staff=${wang.email}`);
    expect(listed.body.map((c: { commonName: string }) => c.commonName)).toEqual([wang.name, wang.name]);
  });

  test("a made-up staff member whose name is not in the certificate", async () => {
    await addStaff("KHH-TAX", "林小華", "lin.hsiao-hua@tax.khh.example");
    const e = await refused("lin.hsiao-hua@tax.khh.example", pem(TROUBLED.legacy_p12!.cert), "encrypt");
    expect(e.details.staff.name).toBe("林小華");
    expect(e.details.certificate.commonName).toBe("楊淑惠");
    expect(e.details.problems.map((p) => p.check)).toContain("name");
  });

  test("a made-up staff member under the certificate's name but another address", async () => {
    await addStaff("KHH-TAX", "楊淑惠", "yang.other@tax.khh.example");
    const e = await refused("yang.other@tax.khh.example", pem(TROUBLED.legacy_p12!.cert), "encrypt");
    expect(e.details.problems.map((p) => p.check)).toEqual(["email"]);
    expect(e.message).toContain("yang@tax.khh.example");
    expect(e.message).toContain("yang.other@tax.khh.example");
  });

  test("the agency's subject rules: a certificate of another organisation is refused", async () => {
    // Name and address match, but the staff member is registered with the social-affairs bureau, whose
    // certificates carry O=高雄市政府社會局 / OU=KHH-SOC; this one carries the tax bureau's.
    await addStaff("KHH-SOC", "楊淑惠", "yang@tax.khh.example");
    const e = await refused("yang@tax.khh.example", pem(TROUBLED.legacy_p12!.cert), "encrypt");
    // Both rules fail (O and OU), nothing else.
    expect(e.details.problems.map((p) => p.check)).toEqual(["agency", "agency"]);
    expect(e.details.agencySubjectRules).toEqual(["O=高雄市政府社會局", "OU=KHH-SOC"]);
    expect(e.message).toContain("O=高雄市政府社會局");
  });

  test("a certificate that names the person, the agency and the address is registered", async () => {
    await addStaff("KHH-TAX", "謝明哲", "hsieh@tax.khh.example");
    const r = await admin.call("POST", "/v1/admin/certificates", {
      staff: "hsieh@tax.khh.example",
      pem: pem(TROUBLED.sign_only_usage!.cert),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.commonName).toBe("謝明哲");
  });

  test("a certificate without an e-mail address passes on name and subject rules", async () => {
    await addStaff("KHH-TAX", "周國強", "chou@tax.khh.example");
    const now = Date.now();
    const issued = (name: string, subject: string) =>
      issueTestCertificate({
        dir: data.dir,
        name,
        subject,
        usage: "encrypt",
        notBefore: new Date(now - 86_400_000),
        notAfter: new Date(now + 30 * 86_400_000),
      });
    const noOu = issued("chou-no-ou", "/C=TW/O=高雄市稅捐稽徵處/CN=周國強");
    const e = await refused("chou@tax.khh.example", readFileSync(noOu.cert, "utf8"));
    expect(e.details.problems).toEqual([{ check: "agency", message: expect.stringContaining("OU=KHH-TAX") }]);
    const good = issued("chou", "/C=TW/O=高雄市稅捐稽徵處/OU=KHH-TAX/CN=周國強");
    const r = await admin.call("POST", "/v1/admin/certificates", {
      staff: "chou@tax.khh.example",
      pem: readFileSync(good.cert, "utf8"),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });
});

describe("agency subject rules", () => {
  test("set at registration, shown, changed with PATCH, and malformed rules refused", async () => {
    const add = await admin.call("POST", "/v1/admin/agencies", {
      code: "TPE-TAX",
      name: "臺北市稅捐稽徵處",
      email: "sealpost@tax.tpe.example",
      subjectRules: ["O=臺北市稅捐稽徵處", "ou=TPE-TAX", "O=臺北市稅捐稽徵處"],
    });
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    // Short names are written canonically; a duplicate rule is kept once.
    expect(add.body.subjectRules).toEqual(["O=臺北市稅捐稽徵處", "OU=TPE-TAX"]);
    for (const bad of [["O"], ["=x"], ["O="], ["O=a\u0007b"], ["not a rule"], ["FOO=bar"]]) {
      const r = await admin.call("PATCH", "/v1/admin/agencies/TPE-TAX", { subjectRules: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error.code).toBe("BAD_REQUEST");
    }
    const patched = await admin.call("PATCH", "/v1/admin/agencies/TPE-TAX", { subjectRules: ["2.5.4.10=臺北市政府"] });
    expect(patched.status).toBe(200);
    expect(patched.body.subjectRules).toEqual(["2.5.4.10=臺北市政府"]);
    const listed = await admin.call("GET", "/v1/admin/agencies");
    expect(listed.body.find((a: { code: string }) => a.code === "TPE-TAX").subjectRules).toEqual([
      "2.5.4.10=臺北市政府",
    ]);
    // Name and e-mail changes leave the rules as they are.
    const renamed = await admin.call("PATCH", "/v1/admin/agencies/TPE-TAX", { name: "臺北市稅捐稽徵處 總處" });
    expect(renamed.body.subjectRules).toEqual(["2.5.4.10=臺北市政府"]);
    const audit = (await rawGet(
      server.ctx.db,
      "SELECT detail FROM audit_log WHERE action = 'agency.update' ORDER BY seq DESC LIMIT 1 OFFSET 1",
    )) as { detail: string };
    expect(JSON.parse(audit.detail)).toMatchObject({ code: "TPE-TAX", subjectRules: ["2.5.4.10=臺北市政府"] });
  });
});

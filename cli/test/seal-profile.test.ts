import { createHash, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPki, type PkiManifest, sealpost } from "./helpers.js";

/**
 * `sealpost seal FILE --profile SETTINGS.json`: the transfer settings file the web console downloads (the case's
 * transfer profile) gives the recipients and the case fields of the manifest; its certificates are checked against
 * the trust anchor and CRLs like --to certificates. The settings files are built here from the fixture PKI in the
 * shape the relay answers (GET /v1/cases/:id/profile).
 */

let dir: string;
let pki: PkiManifest;
let trustArgs: string[];
const CASE = {
  id: "C20261206-0007",
  state: "registered",
  category: "WELFARE-TAX",
  senderAgency: "KHH-SOC",
  receivingAgency: "KHH-TAX",
  recordCount: 3,
  uploadNo: "U-PROFILE-1",
  remarks: "",
  createdAt: "2026-12-06T01:00:00.000Z",
  updatedAt: "2026-12-06T01:00:00.000Z",
};

/** A profile recipient with the certificate of `pemPath` (its SHA-256 as the relay computes it, over the DER). */
async function recipient(name: string, email: string, agency: string, pemPath: string, sha?: string) {
  const pem = await readFile(pemPath, "utf8");
  const x = new X509Certificate(pem);
  return {
    staffId: email,
    name,
    email,
    agency,
    certificate: {
      id: email,
      staffId: email,
      purpose: "encrypt",
      status: "active",
      sha256: sha ?? createHash("sha256").update(x.raw).digest("hex"),
      subject: x.subject,
      commonName: name,
      issuer: x.issuer,
      serialHex: x.serialNumber.toLowerCase(),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      pem,
    },
  };
}

const settings = async (file: string, recipients: unknown[], c: Record<string, unknown> = CASE) => {
  const p = join(dir, file);
  await writeFile(p, JSON.stringify({ case: c, recipients }, null, 2));
  return p;
};
const seal = (args: string[]) =>
  sealpost(["seal", "batch.csv", "--key", pki.people["soc-chen"]!.p12, ...trustArgs, ...args], {
    cwd: dir,
    env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin },
  });

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-seal-profile-"));
  await writeFile(join(dir, "batch.csv"), "姓名,身分證字號\n王小明,A100000001\n林美玲,A200000002\n張志強,A100000003\n");
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("seal --profile", () => {
  it("seals to every recipient of the settings file with the case in the manifest; a recipient opens it", async () => {
    const wang = pki.people["tax-wang"]!;
    const chen = pki.people["soc-chen"]!;
    const file = await settings("good.settings.json", [
      await recipient(wang.name, "wang@tax.khh.example", "KHH-TAX", wang.encrypt.cert),
      await recipient(chen.name, "chen@soc.khh.example", "KHH-SOC", chen.encrypt.cert),
    ]);
    const r = await seal(["--profile", file, "-o", "batch.p7m", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = r.json();
    expect((j.recipients as { commonName: string }[]).map((x) => x.commonName)).toEqual([wang.name, chen.name]);
    expect(j).toMatchObject({
      recipientValidation: "trust-path",
      manifest: {
        caseId: CASE.id,
        senderAgency: "KHH-SOC",
        receivingAgency: "KHH-TAX",
        recordCount: 3,
        uploadNo: "U-PROFILE-1",
        fileName: "batch.csv",
      },
    });
    const opened = await sealpost(
      [
        "open",
        "batch.p7m",
        "--key",
        wang.p12,
        ...trustArgs,
        "--intermediate",
        pki.intermediate.cert,
        "-o",
        "out.csv",
        "--json",
      ],
      { cwd: dir, env: { SEALPOST_PIN: wang.pin } },
    );
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.json()).toMatchObject({ manifest: { caseId: CASE.id, uploadNo: "U-PROFILE-1", recordCount: 3 } });
    expect(await readFile(join(dir, "out.csv"))).toEqual(await readFile(join(dir, "batch.csv")));
  });

  it("refuses a revoked recipient certificate like --to does (exit 8), writing nothing", async () => {
    const revoked = pki.troubled.revoked!;
    const file = await settings("revoked.settings.json", [
      await recipient(revoked.name, "tsai@tax.khh.example", "KHH-TAX", revoked.cert),
    ]);
    const r = await seal(["--profile", file, "-o", "revoked.p7m", "--json"]);
    expect(r.code).toBe(8);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "REVOKED", exitCode: 8 } });
    expect(existsSync(join(dir, "revoked.p7m"))).toBe(false);
  });

  it("refuses a certificate whose SHA-256 is not the one the file names, and a file that is not a settings file (exit 2)", async () => {
    const wang = pki.people["tax-wang"]!;
    const swapped = await settings("swapped.settings.json", [
      await recipient(wang.name, "wang@tax.khh.example", "KHH-TAX", wang.encrypt.cert, "00".repeat(32)),
    ]);
    const cases: [string, string][] = [
      [swapped, "does not have the SHA-256"],
      [await settings("none.settings.json", []), "names no recipient"],
      [await settings("nocase.settings.json", [await recipient("x", "x@y", "A", wang.encrypt.cert)], {}), "no id"],
    ];
    await writeFile(join(dir, "notjson.settings.json"), "{ not json");
    cases.push([join(dir, "notjson.settings.json"), "not JSON"]);
    for (const [file, why] of cases) {
      const r = await seal(["--profile", file, "-o", "x.p7m", "--json"]);
      expect(r.code, file).toBe(2);
      expect(r.json().error, file).toMatchObject({ code: "USAGE" });
      expect(JSON.stringify(r.json().error), file).toContain(why);
      expect(existsSync(join(dir, "x.p7m")), file).toBe(false);
    }
    const missing = await seal(["--profile", join(dir, "missing.json"), "-o", "x.p7m", "--json"]);
    expect(missing.code).toBe(3);
  });

  it("takes --profile or --to, not both and not neither; a case option must agree with the file (exit 2)", async () => {
    const wang = pki.people["tax-wang"]!;
    const file = await settings("agree.settings.json", [
      await recipient(wang.name, "wang@tax.khh.example", "KHH-TAX", wang.encrypt.cert),
    ]);
    const both = await seal(["--profile", file, "--to", wang.encrypt.cert, "-o", "y.p7m"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("either --profile or --to");
    const neither = await seal(["-o", "y.p7m"]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("No recipients");
    const other = await seal(["--profile", file, "--case-id", "C-OTHER", "-o", "y.p7m"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("differs from the settings file's caseId");
    const same = await seal(["--profile", file, "--case-id", CASE.id, "-o", "y.p7m"]);
    expect(same.code, same.stderr).toBe(0);
  });
});

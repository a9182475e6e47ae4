import { createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type KeyEntry, createTrustPolicy, parseCertificate } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueTestCertificate } from "../../../tests/helpers/issue-cert.js";
import { openFile, sealFile, signFile, verifyFile } from "../src/index.js";
import { envelope, intermediate, pattern, person, pkiDir, root, signedData, tempDir, troubled } from "./helpers.js";

/**
 * The signer is validated now: a signingTime is what the signer wrote, shown but not trusted. A certificate valid
 * only in February 2025 must not sign a file today by writing a February signingTime.
 */
const chen = person("soc-chen");
const wang = person("tax-wang");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const content = pattern(40_000, 9);
const backdated = new Date("2025-02-15T09:30:00Z");
let pastSigner: KeyEntry;

/** The product's trust policy over the fixture PKI, CRLs required. */
const trust = () =>
  createTrustPolicy({
    anchors: [root],
    intermediates: [intermediate],
    crls: [readFileSync(join(pkiDir, "intermediate/gca.crl.pem")), readFileSync(join(pkiDir, "root/grca.crl.pem"))].map(
      (b) => new Uint8Array(b),
    ),
    revocation: "require",
  });

beforeAll(() => {
  const issued = issueTestCertificate({
    dir: tmp.dir,
    name: "past-signer",
    subject: "/C=TW/O=高雄市政府社會局/OU=KHH-SOC/CN=測試過期簽章者",
    notBefore: new Date("2025-02-01T00:00:00Z"),
    notAfter: new Date("2025-02-28T23:59:59Z"),
  });
  pastSigner = {
    cert: parseCertificate(readFileSync(issued.cert, "utf8")),
    privateKey: createPrivateKey(readFileSync(issued.key)),
    chain: [intermediate, root],
  };
});

/** What an attacker's own tool writes: a SignedData with any signingTime, sealed to wang (no seal-side checks). */
const signedWith = (signer: KeyEntry, signingTime: Date) => signedData(content, { signer, signingTime });
const sealedWith = async (signer: KeyEntry, signingTime: Date) =>
  envelope(await signedWith(signer, signingTime), { recipients: [wang.encrypt.cert] });

describe("open and verify validate the signer now", () => {
  it("a certificate valid only in February 2025, signing with a backdated signingTime: UNTRUSTED_SIGNER (EXPIRED)", async () => {
    const out = join(tmp.dir, "past.csv");
    const err = await openFile(Readable.from([await sealedWith(pastSigner, backdated)]), out, {
      keys: [wang.encrypt],
      trust: trust(),
    }).catch((e) => e);
    expect(err.code).toBe("UNTRUSTED_SIGNER");
    expect(err.details.pkiCode).toBe("EXPIRED");
    expect(existsSync(out)).toBe(false);

    const p7s = join(tmp.dir, "past.p7s");
    writeFileSync(p7s, await signedWith(pastSigner, backdated));
    const v = await verifyFile(p7s, { trust: trust() }).catch((e) => e);
    expect(v.code).toBe("UNTRUSTED_SIGNER");
    expect(v.details.pkiCode).toBe("EXPIRED");
  });

  it("a current certificate with a backdated signingTime opens; the signingTime is shown as written", async () => {
    const out = join(tmp.dir, "current.csv");
    const r = await openFile(Readable.from([await sealedWith(chen.sign, backdated)]), out, {
      keys: [wang.encrypt],
      trust: trust(),
    });
    expect(r.signingTime?.toISOString()).toBe(backdated.toISOString());
    expect(r.checks).toContain("trust");
    expect(readFileSync(out).equals(content)).toBe(true);
  });
});

describe("seal and sign refuse the user's own signing certificate outside its validity, before writing", () => {
  const signers: Record<string, () => KeyEntry> = {
    "valid only in February 2025": () => pastSigner,
    "expired (2020-2021)": () => troubled("expired"),
    "not yet valid (from 2098)": () => troubled("not_yet_valid"),
  };
  it.each([
    ["valid only in February 2025", "EXPIRED"],
    ["expired (2020-2021)", "EXPIRED"],
    ["not yet valid (from 2098)", "NOT_YET_VALID"],
  ])("%s => %s", async (name, code) => {
    const signer = signers[name]!;
    const dir = join(tmp.dir, `refuse-${code}-${Math.random().toString(16).slice(2)}`);
    mkdirSync(dir);
    const input = join(tmp.dir, "content.bin");
    writeFileSync(input, content);
    const s = await sealFile(input, join(dir, "x.p7m"), { recipients: [wang.encrypt.cert], signer: signer() }).catch(
      (e) => e,
    );
    expect(s.code).toBe(code);
    const g = await signFile(input, join(dir, "x.p7s"), { signer: signer() }).catch((e) => e);
    expect(g.code).toBe(code);
    expect(readdirSync(dir)).toEqual([]);
  });
});

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KeyEntry } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeManifest, encodeManifest, openFile, sealFile } from "../src/index.js";
import { envelope, pattern, person, pkiDir, signedData, tempDir, testTrust } from "./helpers.js";
import { openssl } from "./openssl.js";

/**
 * A forwarded file: a recipient strips the envelope and encrypts the signed content to a third person. The signature
 * still checks out, so `open` must compare the opener with the signed manifest: the SHA-256 of the recipients'
 * certificates when the manifest carries them, else its receiving agency.
 */
const chen = person("soc-chen"); // KHH-SOC, the sender
const wang = person("tax-wang"); // KHH-TAX, the recipient
const lee = person("tax-lee"); // KHH-TAX colleague, not a recipient
const lin = person("soc-lin"); // KHH-SOC, another agency
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const f = (n: string) => join(tmp.dir, n);
const content = pattern(30_000, 21);
let inner: Buffer; // the signed content of a file sealed by chen to wang, as wang can strip it

const forwardTo = (signed: Buffer, to: KeyEntry) => envelope(signed, { recipients: [to.cert] });
const signed = (manifest: TransferManifest) => signedData(content, { signer: chen.sign, manifest });
async function open(file: Buffer, key: KeyEntry, extra: object = {}) {
  const out = f(`o-${Math.random().toString(16).slice(2)}`);
  const r = await openFile(Readable.from([file]), out, { keys: [key], trust: testTrust(), ...extra }).catch((e) => e);
  return { r, written: existsSync(out) };
}

beforeAll(async () => {
  writeFileSync(f("in.csv"), content);
  const manifest = { caseId: "C-2026-0042", senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX" };
  await sealFile(f("in.csv"), f("sealed.p7m"), { recipients: [wang.encrypt.cert], signer: chen.sign, manifest });
  // wang strips the envelope with openssl, as anyone holding the key can
  await openssl([
    "cms",
    "-decrypt",
    "-inform",
    "DER",
    "-in",
    f("sealed.p7m"),
    "-recip",
    join(pkiDir, wang.files.encrypt.cert),
    "-inkey",
    join(pkiDir, wang.files.encrypt.key),
    "-binary",
    "-out",
    f("inner.der"),
  ]);
  inner = readFileSync(f("inner.der"));
});

describe("the manifest names the recipients (SHA-256 of their certificates)", () => {
  it("seal writes the recipients' certificate hashes into the manifest; the recipient opens it", async () => {
    const { r } = await open(readFileSync(f("sealed.p7m")), wang.encrypt);
    expect(r.manifest.recipients).toEqual([wang.encrypt.cert.sha256]);
    expect(r.checks).toContain("addressee");
  });

  it("forwarded to another agency (林志明, KHH-SOC): FORWARDED, nothing written; --allow-forwarded opens with a warning", async () => {
    const { r, written } = await open(forwardTo(inner, lin.encrypt), lin.encrypt);
    expect(r.code).toBe("FORWARDED");
    expect(r.message).toMatch(/not sealed for you/);
    expect(r.details).toMatchObject({ reason: "recipients", receivingAgency: "KHH-TAX" });
    expect(written).toBe(false);
    const allowed = await open(forwardTo(inner, lin.encrypt), lin.encrypt, { allowForwarded: true });
    expect(allowed.written).toBe(true);
    expect(allowed.r.warnings.join(" ")).toMatch(/forwarded/);
    expect(allowed.r.checks).not.toContain("addressee");
  });

  it("forwarded to a colleague of the same agency (李美玲, KHH-TAX): FORWARDED as well (the hashes decide)", async () => {
    const { r } = await open(forwardTo(inner, lee.encrypt), lee.encrypt);
    expect(r.code).toBe("FORWARDED");
  });
});

describe("a manifest without recipient hashes (older sealpost, other tools): the receiving agency decides", () => {
  const legacy = () => signed({ caseId: "C-2026-0043", receivingAgency: "KHH-TAX" });
  it("the receiving agency's staff open it (agency from the certificate's O / OU)", async () => {
    const { r } = await open(forwardTo(await legacy(), lee.encrypt), lee.encrypt);
    expect(r.checks).toContain("addressee");
  });
  it("staff of another agency: FORWARDED (reason receiving-agency)", async () => {
    const { r } = await open(forwardTo(await legacy(), lin.encrypt), lin.encrypt);
    expect(r.code).toBe("FORWARDED");
    expect(r.details).toMatchObject({ reason: "receiving-agency", yourAgencies: ["高雄市政府社會局", "KHH-SOC"] });
  });
  it("openerAgencies (the CLI's configured agency) replaces the certificate's", async () => {
    const { r } = await open(forwardTo(await legacy(), lin.encrypt), lin.encrypt, { openerAgencies: ["khh-tax "] });
    expect(r.checks).toContain("addressee");
  });
  it("no receiving agency and no recipients: nothing to check, it opens without the addressee check", async () => {
    const { r } = await open(forwardTo(await signed({ caseId: "C-1" }), lin.encrypt), lin.encrypt);
    expect(r.checks).not.toContain("addressee");
    expect(r.signed).toBe(true);
  });
});

describe("manifest encoding of recipients: [7] SET OF OCTET STRING, ignored by older readers", () => {
  it("round-trips and sorts; a reader that knows only tags 0-6 reads the rest unchanged", () => {
    const hashes = [wang.encrypt.cert.sha256, lee.encrypt.cert.sha256];
    const der = encodeManifest({ caseId: "C-9", uploadNo: "U-1", recipients: hashes });
    expect(decodeManifest(der)).toEqual({ caseId: "C-9", uploadNo: "U-1", recipients: [...hashes].sort() });
    expect(der.includes(Buffer.from([0xa7]))).toBe(true);
  });
  it("a recipient hash that is not 32 bytes is MALFORMED", () => {
    const bad = Buffer.from("3008a7060404deadbeef", "hex");
    expect(() => decodeManifest(bad)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });
});

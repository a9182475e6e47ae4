import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  certificateToPem,
  decodePem,
  issuedBy,
  issuerAndSerialMatches,
  parseCertificate,
  parseCertificates,
  readCertificates,
  serialsEqual,
  subjectKeyIdMatches,
} from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { commonNameOf, decodeStringValue, namesEqual, nameToString } from "../src/names.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const vectors = path.resolve(repoRoot, "../shared/vectors");

/** Builds a DER Name from RDNs of [oid, asn1 value] pairs. */
function nameDer(rdns: [string, asn1js.BaseBlock][][]): Uint8Array {
  const seq = new asn1js.Sequence({
    value: rdns.map(
      (rdn) =>
        new asn1js.Set({
          value: rdn.map(
            ([oid, v]) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), v] }),
          ),
        }),
    ),
  });
  return new Uint8Array(seq.toBER());
}

function expectPkiError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PkiError);
    expect((e as PkiError).code).toBe(code);
    return;
  }
  throw new Error(`expected PkiError ${code}`);
}

describe("DirectoryString decoding", () => {
  const table: { name: string; tag: number; bytes: number[]; want: string }[] = [
    { name: "UTF8String Chinese", tag: 12, bytes: [...Buffer.from("王小明", "utf8")], want: "王小明" },
    { name: "BMPString Chinese (UTF-16BE)", tag: 30, bytes: [0x96, 0x73, 0x59, 0x27, 0x65, 0x87], want: "陳大文" },
    { name: "PrintableString", tag: 19, bytes: [...Buffer.from("Test Agency")], want: "Test Agency" },
    { name: "TeletexString Latin-1", tag: 20, bytes: [0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72], want: "Müller" },
    { name: "TeletexString holding UTF-8", tag: 20, bytes: [...Buffer.from("臺北", "utf8")], want: "臺北" },
    { name: "UniversalString", tag: 28, bytes: [0, 0, 0x73, 0x8b, 0, 1, 0xf6, 0x00], want: "王\u{1f600}" },
    { name: "IA5String", tag: 22, bytes: [...Buffer.from("a@b.tw")], want: "a@b.tw" },
  ];
  for (const t of table) {
    it(t.name, () => {
      expect(decodeStringValue(t.tag, new Uint8Array(t.bytes))).toBe(t.want);
    });
  }
  it("non-string tags give undefined", () => {
    expect(decodeStringValue(2, new Uint8Array([1]))).toBeUndefined();
  });
});

describe("Name rendering and comparison", () => {
  const CN = "2.5.4.3";
  const O = "2.5.4.10";
  const C = "2.5.4.6";
  it("renders RDNs in encoded order with escaping and multi-valued RDNs", () => {
    const der = nameDer([
      [[C, new asn1js.PrintableString({ value: "TW" })]],
      [[O, new asn1js.Utf8String({ value: "Agency, Inc" })]],
      [
        [CN, new asn1js.BmpString({ value: "王小明" })],
        ["2.5.4.5", new asn1js.PrintableString({ value: "A123" })],
      ],
    ]);
    expect(nameToString(der)).toBe("C=TW, O=Agency\\, Inc, CN=王小明+serialNumber=A123");
    expect(commonNameOf(der)).toBe("王小明");
  });
  it("unknown attribute types print as OID=#hex", () => {
    const der = nameDer([[["1.2.3.4", new asn1js.Integer({ value: 5 })]]]);
    expect(nameToString(der)).toBe("1.2.3.4=#020105");
  });
  it("compares names case-insensitively across string types (RFC 5280 7.1)", () => {
    const a = nameDer([
      [[C, new asn1js.PrintableString({ value: "TW" })]],
      [[CN, new asn1js.Utf8String({ value: "Test  CA" })]],
    ]);
    const b = nameDer([
      [[C, new asn1js.PrintableString({ value: "tw" })]],
      [[CN, new asn1js.BmpString({ value: "test ca " })]],
    ]);
    const c = nameDer([
      [[C, new asn1js.PrintableString({ value: "TW" })]],
      [[CN, new asn1js.Utf8String({ value: "Other CA" })]],
    ]);
    const d = nameDer([
      [[CN, new asn1js.Utf8String({ value: "Test CA" })]],
      [[C, new asn1js.PrintableString({ value: "TW" })]],
    ]);
    expect(namesEqual(a, b)).toBe(true);
    expect(namesEqual(a, c)).toBe(false);
    expect(namesEqual(a, d)).toBe(false); // RDN order matters
  });
  it("rejects a malformed name with MALFORMED", () => {
    expectPkiError(() => nameToString(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), "MALFORMED");
  });
});

describe("parseCertificate (certificates made by the openssl CLI)", () => {
  let dir: string;
  let utf8Pem: string;
  let bmpPem: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "sealpost-cert-"));
    const key = path.join(dir, "k.pem");
    execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key], {
      stdio: "pipe",
    });
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-key",
        key,
        "-utf8",
        "-subj",
        "/C=TW/O=臺北市政府社會局 (test)/CN=王小明",
        "-days",
        "30",
        "-set_serial",
        "0x0123456789",
        "-addext",
        "keyUsage=critical,digitalSignature,nonRepudiation",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-out",
        path.join(dir, "utf8.pem"),
      ],
      { stdio: "pipe" },
    );
    writeFileSync(
      path.join(dir, "bmp.cnf"),
      "[req]\ndistinguished_name=dn\nstring_mask=pkix\nutf8=yes\nprompt=no\n[dn]\nC=TW\nO=Test Agency\nCN=陳大文\n",
    );
    execFileSync(
      "openssl",
      ["req", "-x509", "-key", key, "-config", path.join(dir, "bmp.cnf"), "-days", "30", "-set_serial", "0x80"].concat([
        "-out",
        path.join(dir, "bmp.pem"),
      ]),
      { stdio: "pipe" },
    );
    execFileSync("openssl", [
      "x509",
      "-in",
      path.join(dir, "bmp.pem"),
      "-outform",
      "DER",
      "-out",
      path.join(dir, "bmp.der"),
    ]);
    utf8Pem = readFileSync(path.join(dir, "utf8.pem"), "utf8");
    bmpPem = readFileSync(path.join(dir, "bmp.pem"), "utf8");
    writeFileSync(path.join(dir, "bundle.pem"), utf8Pem + bmpPem);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fills every CertInfo field from a UTF8String certificate", () => {
    const c = parseCertificate(utf8Pem);
    expect(c.subject).toBe("C=TW, O=臺北市政府社會局 (test), CN=王小明");
    expect(c.issuer).toBe(c.subject);
    expect(c.commonName).toBe("王小明");
    expect(c.serialHex).toBe("0123456789");
    expect(c.keyUsage).toEqual(new Set(["digitalSignature", "nonRepudiation"]));
    expect(c.keyType).toBe("rsa");
    expect(c.keyBits).toBe(2048);
    expect(c.publicKey.type).toBe("public");
    expect(c.signatureAlgorithmOid).toBe("1.2.840.113549.1.1.11");
    expect(c.isCA).toBe(false);
    expect(c.selfIssued).toBe(true);
    expect(c.subjectKeyIdHex).toMatch(/^[0-9a-f]{40}$/);
    expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(30 * 86400 * 1000);
    const fp = execFileSync("openssl", ["x509", "-in", path.join(dir, "utf8.pem"), "-noout", "-fingerprint", "-sha256"])
      .toString()
      .split("=")[1]!
      .trim()
      .replace(/:/g, "")
      .toLowerCase();
    expect(c.sha256).toBe(fp);
    expect(c.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(Buffer.from(c.der).toString("base64")).toBe(
      decodePem(utf8Pem)[0]!.der && Buffer.from(decodePem(utf8Pem)[0]!.der).toString("base64"),
    );
  });

  it("decodes BMPString names and keeps the DER sign byte of the serial", () => {
    const c = parseCertificate(new Uint8Array(readFileSync(path.join(dir, "bmp.der"))));
    expect(c.commonName).toBe("陳大文");
    expect(c.subject).toBe("C=TW, O=Test Agency, CN=陳大文");
    expect(c.serialHex).toBe("0080");
    expect(c.keyUsage).toBeUndefined();
    expect(issuerAndSerialMatches(c, c.issuerDer, "80")).toBe(true);
    expect(issuerAndSerialMatches(c, c.issuerDer, new Uint8Array([0x00, 0x80]))).toBe(true);
    expect(issuerAndSerialMatches(c, c.issuerDer, 128n)).toBe(true);
    expect(issuerAndSerialMatches(c, c.issuerDer, "81")).toBe(false);
    expect(issuerAndSerialMatches(c, parseCertificate(utf8Pem).issuerDer, "0080")).toBe(false);
    expect(serialsEqual("0x00:80", "80")).toBe(true);
  });

  it("reads bundles, DER files and round-trips PEM", async () => {
    const all = await readCertificates(path.join(dir, "bundle.pem"));
    expect(all.map((c) => c.commonName)).toEqual(["王小明", "陳大文"]);
    expect(parseCertificates(bmpPem)).toHaveLength(1);
    const der = await readCertificates(path.join(dir, "bmp.der"));
    expect(der).toHaveLength(1);
    expect(parseCertificate(certificateToPem(der[0]!)).sha256).toBe(der[0]!.sha256);
    expect(subjectKeyIdMatches(all[0]!, all[0]!.subjectKeyIdHex!)).toBe(true);
    expect(subjectKeyIdMatches(der[0]!, "00")).toBe(false);
    expect(issuedBy(all[0]!, all[0]!)).toBe(true);
    expect(issuedBy(all[0]!, all[1]!)).toBe(false);
  });

  it("reads PKCS#7 certs-only bundles (.p7b), DER and PEM, made by openssl crl2pkcs7", async () => {
    const chain = path.join(repoRoot, "fixtures/pki/intermediate/chain.pem");
    const p7b = path.join(dir, "chain.p7b");
    execFileSync("openssl", ["crl2pkcs7", "-nocrl", "-certfile", chain, "-outform", "DER", "-out", p7b]);
    execFileSync("openssl", ["crl2pkcs7", "-nocrl", "-certfile", chain, "-out", `${p7b}.pem`]);
    const want = parseCertificates(readFileSync(chain, "utf8")).map((c) => c.sha256);
    expect(want).toHaveLength(2);
    expect((await readCertificates(p7b)).map((c) => c.sha256)).toEqual(want);
    expect((await readCertificates(`${p7b}.pem`)).map((c) => c.sha256)).toEqual(want);
  });

  it("rejects damaged input with typed errors", async () => {
    const der = readFileSync(path.join(dir, "bmp.der"));
    expectPkiError(() => parseCertificate(Buffer.concat([der, Buffer.from([0])])), "MALFORMED");
    expectPkiError(() => parseCertificate(der.subarray(0, der.length - 10)), "MALFORMED");
    expectPkiError(() => parseCertificate("no pem here"), "MALFORMED");
    expectPkiError(
      () => parseCertificate("-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n"),
      "MALFORMED",
    );
    expectPkiError(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), "MALFORMED");
    await expect(readCertificates(path.join(dir, "missing.pem"))).rejects.toMatchObject({ code: "IO" });
  });
});

describe("published certificates (PKITS)", () => {
  it("parses every PKITS certificate except the DSA parameter-inheritance ones", () => {
    const d = path.join(vectors, "pkits/certs");
    let ok = 0;
    const unsupported: string[] = [];
    for (const f of readdirSync(d)) {
      try {
        const c = parseCertificate(new Uint8Array(readFileSync(path.join(d, f))));
        if (c.sha256.length === 64) ok++;
      } catch (e) {
        expect((e as PkiError).code).toBe("UNSUPPORTED_ALGORITHM");
        unsupported.push(f);
      }
    }
    console.log(`PKITS certificates parsed: ${ok}, unsupported: ${unsupported.length}`);
    expect(ok).toBeGreaterThan(400);
    expect(unsupported.every((f) => f.includes("DSA"))).toBe(true);
    const root = parseCertificate(new Uint8Array(readFileSync(path.join(d, "TrustAnchorRootCertificate.crt"))));
    expect(root.subject).toBe("C=US, O=Test Certificates 2011, CN=Trust Anchor");
    expect(root.isCA).toBe(true);
    expect(root.keyUsage).toEqual(new Set(["keyCertSign", "cRLSign"]));
  });
});

describe("fuzz corpus (BoringSSL parse_certificate)", () => {
  it("every input gives a CertInfo or a typed PkiError", () => {
    const d = path.join(vectors, "fuzz-corpora/boringssl-parse_certificate_fuzzer_corpus");
    let parsed = 0;
    let typed = 0;
    for (const f of readdirSync(d)) {
      try {
        parseCertificate(new Uint8Array(readFileSync(path.join(d, f))));
        parsed++;
      } catch (e) {
        if (!(e instanceof PkiError)) throw e;
        typed++;
      }
    }
    console.log(`certificate corpus: ${parsed} parsed, ${typed} typed rejections`);
    expect(parsed + typed).toBeGreaterThan(500);
  });
});

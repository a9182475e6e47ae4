import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { parseCertificate } from "../src/cert.js";
import {
  certificateIdentity,
  parseSubjectRule,
  personBindingProblems,
  sameNameValue,
  subjectRuleText,
} from "../src/identity.js";
import { privateKeyMaterialIn } from "../src/secret-files.js";

/** Who a certificate names (fixture certificates), subject rules, and recognising private key files. */

const pki = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pki, "manifest.json"), "utf8"));
const file = (p: string) => new Uint8Array(readFileSync(path.join(pki, p)));
const wang = manifest.people["tax-wang"];
const wangCert = () => parseCertificate(file(wang.encrypt.cert));

test("the identity of a fixture certificate: CN, subject attributes with OIDs, e-mail from subjectAltName", () => {
  const id = certificateIdentity(wangCert());
  expect(id.commonName).toBe("王建民");
  expect(id.emails).toEqual(["wang@tax.khh.example"]);
  expect(id.attributes).toEqual([
    { attribute: "C", oid: "2.5.4.6", value: "TW" },
    { attribute: "O", oid: "2.5.4.10", value: "高雄市稅捐稽徵處" },
    { attribute: "OU", oid: "2.5.4.11", value: "KHH-TAX" },
    { attribute: "CN", oid: "2.5.4.3", value: "王建民" },
  ]);
});

describe("parseSubjectRule", () => {
  const CASES: { input: string; want: string | undefined }[] = [
    { input: "O=高雄市稅捐稽徵處", want: "O=高雄市稅捐稽徵處" },
    { input: " ou = KHH-TAX ", want: "OU=KHH-TAX" },
    { input: "emailaddress=a@b.example", want: "emailAddress=a@b.example" },
    { input: "2.5.4.10=高雄市", want: "2.5.4.10=高雄市" },
    { input: "O=a=b", want: "O=a=b" },
    { input: "O=", want: undefined },
    { input: "=x", want: undefined },
    { input: "FOO=x", want: undefined },
    { input: "O=a\nb", want: undefined },
    { input: `O=${"x".repeat(201)}`, want: undefined },
    { input: "no rule", want: undefined },
  ];
  test.each(CASES.map((c) => [JSON.stringify(c.input), c] as const))("%s", (_n, c) => {
    const r = parseSubjectRule(c.input);
    expect(r === undefined ? undefined : subjectRuleText(r)).toBe(c.want);
  });
});

describe("personBindingProblems", () => {
  const rules = ["O=高雄市稅捐稽徵處", "OU=KHH-TAX"].map((t) => parseSubjectRule(t)!);
  const CASES: { name: string; person: { name: string; email: string }; rules: string[]; want: string[] }[] = [
    { name: "the person", person: { name: "王建民", email: "wang@tax.khh.example" }, rules: [], want: [] },
    {
      name: "e-mail case and name spacing do not matter",
      person: { name: " 王建民 ", email: "WANG@tax.khh.example" },
      rules: [],
      want: [],
    },
    { name: "another name", person: { name: "王大明", email: "wang@tax.khh.example" }, rules: [], want: ["name"] },
    { name: "another address", person: { name: "王建民", email: "w@tax.khh.example" }, rules: [], want: ["email"] },
    {
      name: "agency rules by short name and by OID",
      person: { name: "王建民", email: "wang@tax.khh.example" },
      rules: ["O=高雄市稅捐稽徵處", "2.5.4.11=KHH-TAX"],
      want: [],
    },
    {
      name: "another agency's rule",
      person: { name: "王建民", email: "wang@tax.khh.example" },
      rules: ["O=高雄市政府社會局"],
      want: ["agency"],
    },
  ];
  test.each(CASES.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const got = personBindingProblems(
      certificateIdentity(wangCert()),
      c.person,
      c.rules.map((t) => parseSubjectRule(t)!),
    );
    expect(got.map((p) => p.check)).toEqual(c.want);
  });
  test("messages name both sides", () => {
    const [p] = personBindingProblems(certificateIdentity(wangCert()), { name: "王大明", email: wang.email }, rules);
    expect(p!.message).toBe("the certificate names 王建民, the staff member is 王大明");
  });
  test("names compare after NFKC normalisation (full-width Latin letters)", () => {
    expect(sameNameValue("ＫＨＨ-TAX", "khh-tax")).toBe(true);
    expect(sameNameValue("王建民", "王建明")).toBe(false);
  });
});

describe("privateKeyMaterialIn", () => {
  const lin = manifest.people["soc-lin"];
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const CASES: { name: string; bytes: () => Uint8Array; want: string | undefined }[] = [
    { name: "PEM certificate", bytes: () => file(lin.sign.cert), want: undefined },
    { name: "DER certificate", bytes: () => wangCert().der, want: undefined },
    { name: "PEM PKCS#8 key", bytes: () => file(lin.sign.key), want: 'PEM "PRIVATE KEY" block' },
    { name: "PEM encrypted key", bytes: () => file(lin.sign.key_encrypted), want: 'PEM "ENCRYPTED PRIVATE KEY" block' },
    {
      name: "PEM SEC1 EC key",
      bytes: () => Buffer.from(privateKey.export({ type: "sec1", format: "pem" }) as string),
      want: 'PEM "EC PRIVATE KEY" block',
    },
    {
      name: "DER SEC1 EC key",
      bytes: () => privateKey.export({ type: "sec1", format: "der" }) as Buffer,
      want: "DER private key",
    },
    {
      name: "DER PKCS#8 key",
      bytes: () => privateKey.export({ type: "pkcs8", format: "der" }) as Buffer,
      want: "DER private key",
    },
    {
      name: "DER encrypted PKCS#8 key",
      bytes: () =>
        privateKey.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: "test-only" }) as Buffer,
      want: "DER private key",
    },
    { name: "PKCS#12", bytes: () => file(lin.p12), want: "PKCS#12 keystore" },
    {
      name: "a certificate followed by a key",
      bytes: () => Buffer.concat([file(lin.sign.cert), file(lin.sign.key)]),
      want: 'PEM "PRIVATE KEY" block',
    },
    {
      name: "OpenPGP private key block",
      bytes: () => Buffer.from("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxcA\n-----END PGP PRIVATE KEY BLOCK-----\n"),
      want: 'PEM "PGP PRIVATE KEY BLOCK" block',
    },
    { name: "not DER at all", bytes: () => Buffer.from("hello"), want: undefined },
  ];
  test.each(CASES.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    expect(privateKeyMaterialIn(c.bytes())).toBe(c.want);
  });
});

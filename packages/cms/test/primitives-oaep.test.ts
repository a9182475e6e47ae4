import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CmsError } from "../src/errors.js";
import { normalizeHash } from "../src/primitives/hashes.js";
import {
  encodeRsaesOaepParams,
  parseRsaesOaepParams,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
} from "../src/primitives/rsa-oaep.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");

interface OaepTest {
  tcId: number;
  msg: string;
  ct: string;
  label: string;
  result: "valid" | "invalid" | "acceptable";
}
interface OaepGroup {
  sha: string;
  mgfSha: string;
  privateKeyPkcs8: string;
  tests: OaepTest[];
}

const files = readdirSync(wyDir).filter((f) => f.startsWith("rsa_oaep_"));

describe("Wycheproof RSA-OAEP decryption (primitives/rsa-oaep)", () => {
  it("has the SHA-256 files", () => {
    for (const bits of [2048, 3072, 4096]) expect(files).toContain(`rsa_oaep_${bits}_sha256_mgf1sha256_test.json`);
  });

  for (const file of files) {
    it(file, () => {
      const data = JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as { testGroups: OaepGroup[] };
      const failures: string[] = [];
      let run = 0;
      for (const g of data.testGroups) {
        const key = createPrivateKey({ key: hex(g.privateKeyPkcs8), format: "der", type: "pkcs8" });
        const params = { hash: normalizeHash(g.sha), mgf1Hash: normalizeHash(g.mgfSha) };
        let roundTripped = false;
        for (const t of g.tests) {
          run++;
          const out = rsaOaepDecrypt(key, hex(t.ct), { ...params, label: hex(t.label) });
          if (t.result === "valid" && (out === null || !out.equals(hex(t.msg))))
            failures.push(`${t.tcId}: valid failed`);
          if (t.result === "invalid" && out !== null) failures.push(`${t.tcId}: invalid accepted`);
          if (t.result === "valid" && !roundTripped && t.label === "") {
            // Our encryption with the same parameters decrypts back (through the same path the CMS layer uses).
            const pub = createPublicKey(key);
            const m = hex(t.msg);
            const again = rsaOaepDecrypt(key, rsaOaepEncrypt(pub, m, params.hash, params.mgf1Hash), params);
            if (!again?.equals(m)) failures.push(`${t.tcId}: round trip failed`);
            roundTripped = true;
          }
        }
      }
      console.log(`${file}: ${run} cases`);
      expect(run).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
});

describe("RSAES-OAEP-params", () => {
  it("encodes SHA-256/MGF1-SHA-256 as RFC 4055 does and parses it back", () => {
    const der = encodeRsaesOaepParams("sha256");
    // RFC 4055 section 4.1 (rSAES-OAEP-SHA256-Params), with hash parameters absent per RFC 5754.
    expect(Buffer.from(der).toString("hex")).toBe(
      "302ba00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201",
    );
    expect(parseRsaesOaepParams(der)).toEqual({ hash: "sha256", mgf1Hash: "sha256" });
    expect(parseRsaesOaepParams(encodeRsaesOaepParams("sha384", "sha1"))).toEqual({ hash: "sha384", mgf1Hash: "sha1" });
  });
  it("absent or empty parameters mean SHA-1 defaults", () => {
    expect(parseRsaesOaepParams(undefined)).toEqual({ hash: "sha1", mgf1Hash: "sha1" });
    expect(parseRsaesOaepParams(new Uint8Array([0x30, 0x00]))).toEqual({ hash: "sha1", mgf1Hash: "sha1" });
  });
  it("accepts NULL hash parameters (as OpenSSL writes them)", () => {
    const withNull = hex(
      "302fa00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500",
    );
    expect(parseRsaesOaepParams(withNull)).toEqual({ hash: "sha256", mgf1Hash: "sha256" });
  });
  it("refuses a non-empty label, unknown hashes and damaged encodings with typed errors", () => {
    const label = hex("3012a210300e06092a864886f70d0101090401aa"); // pSpecified with label 0xaa
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(CmsError);
        return (e as CmsError).code;
      }
      return "none";
    };
    expect(code(() => parseRsaesOaepParams(label))).toBe("UNSUPPORTED_ALGORITHM");
    // hashFunc = MD5
    expect(code(() => parseRsaesOaepParams(hex("300ea00c300a06082a864886f70d0205")))).toBe("UNSUPPORTED_ALGORITHM");
    expect(code(() => parseRsaesOaepParams(hex("3003020101")))).toBe("MALFORMED");
    expect(code(() => parseRsaesOaepParams(hex("3026a00d")))).toBe("MALFORMED");
  });
});

describe("interop with openssl pkeyutl (MGF1 hash different from the OAEP hash)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealpost-oaep-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(repoRoot, "fixtures/pki/people/tax-wang/encrypt.key.pem");
  const key: KeyObject = createPrivateKey(readFileSync(keyPath));
  const pubPath = path.join(dir, "pub.pem");
  writeFileSync(pubPath, createPublicKey(key).export({ type: "spki", format: "pem" }));
  const opts = (hash: string, mgf: string) => [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    `rsa_oaep_md:${hash}`,
    "-pkeyopt",
    `rsa_mgf1_md:${mgf}`,
  ];

  for (const [hash, mgf] of [
    ["sha256", "sha1"],
    ["sha256", "sha256"],
    ["sha512", "sha256"],
  ] as const) {
    it(`OAEP ${hash} / MGF1-${mgf}: openssl encrypts, we decrypt; we encrypt, openssl decrypts`, () => {
      const cek = randomBytes(32);
      const inFile = path.join(dir, `cek-${hash}-${mgf}`);
      writeFileSync(inFile, cek);
      const ct = execFileSync("openssl", [
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        pubPath,
        "-in",
        inFile,
        ...opts(hash, mgf),
      ]);
      expect(rsaOaepDecrypt(key, ct, { hash, mgf1Hash: mgf })).toEqual(cek);
      expect(rsaOaepDecrypt(key, ct, { hash, mgf1Hash: hash === mgf ? "sha1" : hash })).toBeNull();
      const ours = path.join(dir, `ours-${hash}-${mgf}`);
      writeFileSync(ours, rsaOaepEncrypt(createPublicKey(key), cek, hash, mgf));
      const back = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", keyPath, "-in", ours, ...opts(hash, mgf)]);
      expect(back).toEqual(cek);
    });
  }
});

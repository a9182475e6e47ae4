import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { CmsError } from "../src/errors.js";
import { type HashName, normalizeHash } from "../src/primitives/hashes.js";
import { encodeRsassaPssParams, parseRsassaPssParams, rsaSign, rsaVerify } from "../src/primitives/rsa-sign.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");

interface SigTest {
  tcId: number;
  msg: string;
  sig: string;
  result: "valid" | "invalid" | "acceptable";
}
interface SigGroup {
  sha: string;
  mgfSha?: string;
  sLen?: number;
  publicKeyAsn: string;
  publicKeyDer?: string;
  tests: SigTest[];
}

const load = (file: string) => JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as { testGroups: SigGroup[] };
const publicKey = (g: SigGroup): KeyObject =>
  createPublicKey({ key: hex(g.publicKeyAsn), format: "der", type: "pkcs1" });

/** The AlgorithmIdentifier parameters of an RSASSA-PSS SubjectPublicKeyInfo, when it has them. */
function spkiPssParams(spkiHex: string | undefined): asn1js.AsnType | undefined | "not-pss" {
  if (!spkiHex) return "not-pss";
  const spki = asn1js.fromBER(hex(spkiHex)).result as asn1js.Sequence;
  const alg = spki.valueBlock.value[0] as asn1js.Sequence;
  const [oid, params] = alg.valueBlock.value;
  if ((oid as asn1js.ObjectIdentifier).valueBlock.toString() !== "1.2.840.113549.1.1.10") return "not-pss";
  return params;
}

const pkcs1Files = readdirSync(wyDir).filter((f) => /^rsa_signature_\d+_sha\d+_test\.json$/.test(f));
const pssFiles = readdirSync(wyDir).filter((f) => f.startsWith("rsa_pss_"));

describe("Wycheproof RSASSA-PKCS1-v1_5 verification (primitives/rsa-sign)", () => {
  it("has the SHA-256 files", () => {
    for (const bits of [2048, 3072, 4096]) expect(pkcs1Files).toContain(`rsa_signature_${bits}_sha256_test.json`);
  });
  for (const file of pkcs1Files) {
    it(file, () => {
      const failures: string[] = [];
      let run = 0;
      for (const g of load(file).testGroups) {
        const key = publicKey(g);
        const hash = normalizeHash(g.sha);
        for (const t of g.tests) {
          run++;
          const ok = rsaVerify(key, hex(t.msg), hex(t.sig), { scheme: "pkcs1", hash });
          if (t.result === "valid" && !ok) failures.push(`${t.tcId}: valid rejected`);
          if (t.result === "invalid" && ok) failures.push(`${t.tcId}: invalid accepted`);
        }
      }
      console.log(`${file}: ${run} cases`);
      expect(run).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
});

describe("Wycheproof RSASSA-PSS verification (primitives/rsa-sign)", () => {
  for (const file of pssFiles) {
    it(file, () => {
      const failures: string[] = [];
      let run = 0;
      let refused = 0;
      for (const g of load(file).testGroups) {
        let hash: HashName;
        let mgfHash: HashName;
        try {
          hash = normalizeHash(g.sha);
          mgfHash = normalizeHash(g.mgfSha ?? g.sha);
        } catch (e) {
          expect((e as CmsError).code).toBe("UNSUPPORTED_ALGORITHM");
          refused += g.tests.length;
          continue;
        }
        // Files with parameters in the key: our RSASSA-PSS-params parser must read what the group states, and
        // refuse (UNSUPPORTED_ALGORITHM) an MGF1 hash that differs from the message hash.
        const params = spkiPssParams(g.publicKeyDer);
        if (params !== "not-pss") {
          if (mgfHash !== hash) {
            expect(() => parseRsassaPssParams(params)).toThrow(
              expect.objectContaining({ code: "UNSUPPORTED_ALGORITHM" }),
            );
          } else {
            expect(parseRsassaPssParams(params)).toEqual({ hash, saltLength: g.sLen });
          }
        }
        if (mgfHash !== hash) {
          // sealpost does not support distinct MGF1 hashes for PSS (documented); these are counted, not run.
          refused += g.tests.length;
          continue;
        }
        const key = publicKey(g);
        for (const t of g.tests) {
          run++;
          const ok = rsaVerify(key, hex(t.msg), hex(t.sig), { scheme: "pss", hash, saltLength: g.sLen ?? 0 });
          if (t.result === "valid" && !ok) failures.push(`${t.tcId}: valid rejected`);
          if (t.result === "invalid" && ok) failures.push(`${t.tcId}: invalid accepted`);
        }
      }
      console.log(`${file}: ${run} cases run, ${refused} refused by design (MGF1 hash differs or hash unsupported)`);
      expect(run + refused).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
  it("the SHA-256 PSS files run cases (not all refused)", () => {
    for (const f of pssFiles.filter((x) => x.includes("sha256_mgf1_32"))) {
      const g = load(f).testGroups.filter((x) => x.sha === "SHA-256" && (x.mgfSha ?? "SHA-256") === "SHA-256");
      expect(g.length).toBeGreaterThan(0);
    }
  });
});

describe("RSASSA-PSS-params and signing", () => {
  const key = createPrivateKey(readFileSync(path.join(repoRoot, "fixtures/pki/people/tax-wang/sign.key.pem")));
  const pub = createPublicKey(key);
  const data = Buffer.from("sealpost signed attributes (test)");

  it("encodes SHA-256 / MGF1-SHA-256 / salt 32 as RFC 4055 rSASSA-PSS-SHA256-Params (hash params absent)", () => {
    const der = encodeRsassaPssParams("sha256");
    expect(Buffer.from(der).toString("hex")).toBe(
      "3030a00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201a203020120",
    );
    expect(parseRsassaPssParams(der)).toEqual({ hash: "sha256", saltLength: 32 });
    expect(parseRsassaPssParams(undefined)).toEqual({ hash: "sha1", saltLength: 20 });
    expect(parseRsassaPssParams(encodeRsassaPssParams("sha512", 20))).toEqual({ hash: "sha512", saltLength: 20 });
  });

  it("refuses trailer fields other than 1 and damaged parameters", () => {
    const trailer2 = hex("3005a303020102");
    expect(() => parseRsassaPssParams(trailer2)).toThrow(expect.objectContaining({ code: "UNSUPPORTED_ALGORITHM" }));
    expect(() => parseRsassaPssParams(hex("3005a203040120"))).toThrow(CmsError);
    expect(() => parseRsassaPssParams(hex("3005a103020101"))).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });

  for (const scheme of ["pkcs1", "pss"] as const) {
    it(`${scheme}: sign and verify; a changed byte or the wrong scheme fails`, () => {
      const sig = rsaSign(key, data, { scheme, hash: "sha256" });
      expect(sig).toHaveLength(256);
      expect(rsaVerify(pub, data, sig, { scheme, hash: "sha256" })).toBe(true);
      const bad = Buffer.from(sig);
      bad[10] = bad[10]! ^ 1;
      expect(rsaVerify(pub, data, bad, { scheme, hash: "sha256" })).toBe(false);
      expect(rsaVerify(pub, data, sig, { scheme: scheme === "pss" ? "pkcs1" : "pss", hash: "sha256" })).toBe(false);
      expect(rsaVerify(pub, data, sig.subarray(1), { scheme, hash: "sha256" })).toBe(false);
    });
  }
});

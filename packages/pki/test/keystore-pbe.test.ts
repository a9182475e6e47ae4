import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { DecryptionFailed, pbeDecrypt, pbes2Decrypt } from "../src/keystore/pbe.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");

interface PbeTest {
  tcId: number;
  password: string;
  salt: string;
  iterationCount: number;
  iv: string;
  msg: string;
  ct: string;
  result: "valid" | "invalid" | "acceptable";
}

const PRF: Record<string, string> = {
  hmacsha1: "1.2.840.113549.2.7",
  hmacsha256: "1.2.840.113549.2.9",
  hmacsha512: "1.2.840.113549.2.11",
};
const AES: Record<string, string> = { "128": "2.16.840.1.101.3.4.1.2", "256": "2.16.840.1.101.3.4.1.42" };

/** PBES2-params as a PKCS#12 / PKCS#8 file carries them (RFC 8018 A.4), built from a Wycheproof case. */
function pbes2Params(t: PbeTest, prfOid: string, aesOid: string): asn1js.Sequence {
  const algId = (oid: string, params?: asn1js.AsnType) =>
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), ...(params ? [params] : [])] });
  return new asn1js.Sequence({
    value: [
      algId(
        "1.2.840.113549.1.5.12",
        new asn1js.Sequence({
          value: [
            new asn1js.OctetString({ valueHex: hex(t.salt) }),
            new asn1js.Integer({ value: t.iterationCount }),
            algId(prfOid, new asn1js.Null()),
          ],
        }),
      ),
      algId(aesOid, new asn1js.OctetString({ valueHex: hex(t.iv) })),
    ],
  });
}

const files = readdirSync(wyDir).filter((f) => /^pbes2_hmac(sha\d+)_aes_(\d+)_test\.json$/.test(f));

describe("Wycheproof PBES2 through the keystore's PBES2 code", () => {
  it("has PBES2 files", () => expect(files.length).toBeGreaterThanOrEqual(5));
  for (const file of files) {
    it(file, () => {
      const [, prf, bits] = /^pbes2_(hmacsha\d+)_aes_(\d+)_test\.json$/.exec(file)!;
      const data = JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as { testGroups: { tests: PbeTest[] }[] };
      const failures: string[] = [];
      let run = 0;
      for (const g of data.testGroups) {
        for (const t of g.tests) {
          run++;
          const params = pbes2Params(t, PRF[prf!]!, AES[bits!]!);
          let out: Buffer | undefined;
          try {
            out = pbes2Decrypt(params, hex(t.password), hex(t.ct));
          } catch (e) {
            if (!(e instanceof DecryptionFailed)) throw e;
          }
          if (t.result === "valid" && !out?.equals(hex(t.msg))) failures.push(`${t.tcId}: valid failed`);
          if (t.result === "invalid" && out !== undefined) failures.push(`${t.tcId}: invalid accepted`);
        }
      }
      // The same path with the full AlgorithmIdentifier and a UTF-8 password (as loadKeystore calls it).
      const first = data.testGroups[0]!.tests.find(
        (t) => t.result === "valid" && /^[\x20-\x7e]*$/.test(hex(t.password).toString("latin1")),
      )!;
      const algId = new asn1js.Sequence({
        value: [
          new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.5.13" }),
          pbes2Params(first, PRF[prf!]!, AES[bits!]!),
        ],
      });
      expect(pbeDecrypt(algId, hex(first.password).toString("latin1"), hex(first.ct))).toEqual(hex(first.msg));
      console.log(`${file}: ${run} cases`);
      expect(run).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CmsError } from "../src/errors.js";
import {
  aesCbcDecrypt,
  aesCbcEncrypt,
  aesGcmDecrypt,
  aesGcmEncrypt,
  cbcParamsCheck,
  gcmParamsCheck,
  MAX_GCM_NONCE,
} from "../src/primitives/aes.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");

interface AeadTest {
  tcId: number;
  key: string;
  iv: string;
  aad?: string;
  msg: string;
  ct: string;
  tag?: string;
  result: "valid" | "invalid" | "acceptable";
}
const load = (file: string) =>
  JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as { testGroups: { tests: AeadTest[] }[] };

/** Runs `f`; a CmsError MALFORMED (parameter check) counts as a rejection, anything else is rethrown. */
function orRejected<T>(f: () => T): T | "rejected" {
  try {
    return f();
  } catch (e) {
    if (e instanceof CmsError && e.code === "MALFORMED") return "rejected";
    throw e;
  }
}

describe("Wycheproof through the primitive AES helpers", () => {
  it("aes_gcm_test.json", () => {
    const failures: string[] = [];
    let run = 0;
    let longNonce = 0;
    for (const g of load("aes_gcm_test.json").testGroups) {
      for (const t of g.tests) {
        run++;
        if (t.iv.length / 2 > MAX_GCM_NONCE) {
          // Beyond Node's OpenSSL limit: refused by the parameter check (documented), never decrypted.
          expect(orRejected(() => aesGcmDecrypt(hex(t.key), hex(t.iv), hex(t.ct), hex(t.tag ?? "")))).toBe("rejected");
          longNonce++;
          continue;
        }
        const [key, iv, aad, msg, ct, tag] = [t.key, t.iv, t.aad ?? "", t.msg, t.ct, t.tag ?? ""].map(hex) as Buffer[];
        const out = orRejected(() => aesGcmDecrypt(key!, iv!, ct!, tag!, aad!));
        if (t.result === "valid") {
          if (out === "rejected" || out === null || !out.equals(msg!)) failures.push(`${t.tcId}: decrypt`);
          const enc = aesGcmEncrypt(key!, iv!, msg!, aad!, tag!.length);
          if (!enc.ciphertext.equals(ct!) || !enc.tag.equals(tag!)) failures.push(`${t.tcId}: encrypt`);
        } else if (t.result === "invalid" && out !== null && out !== "rejected") {
          failures.push(`${t.tcId}: invalid gave plaintext`);
        }
      }
    }
    console.log(`aes_gcm_test.json: ${run} cases (${longNonce} with a nonce over ${MAX_GCM_NONCE} bytes, refused)`);
    expect(longNonce).toBeLessThan(10);
    expect(run).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it("aes_cbc_pkcs5_test.json", () => {
    const failures: string[] = [];
    let run = 0;
    for (const g of load("aes_cbc_pkcs5_test.json").testGroups) {
      for (const t of g.tests) {
        run++;
        const [key, iv, msg, ct] = [t.key, t.iv, t.msg, t.ct].map(hex) as Buffer[];
        const out = orRejected(() => aesCbcDecrypt(key!, iv!, ct!));
        if (t.result === "valid") {
          if (out === "rejected" || out === null || !out.equals(msg!)) failures.push(`${t.tcId}: decrypt`);
          if (!aesCbcEncrypt(key!, iv!, msg!).equals(ct!)) failures.push(`${t.tcId}: encrypt`);
        } else if (t.result === "invalid" && out !== null && out !== "rejected") {
          failures.push(`${t.tcId}: invalid gave plaintext`);
        }
      }
    }
    console.log(`aes_cbc_pkcs5_test.json: ${run} cases`);
    expect(run).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});

describe("parameter checks OpenSSL would let through", () => {
  const key = Buffer.alloc(32, 7);
  const iv = Buffer.alloc(12, 1);
  it("GCM: tags shorter than 12 bytes are refused even when they would verify", () => {
    const { ciphertext, tag } = aesGcmEncrypt(key, iv, Buffer.from("payload"));
    expect(aesGcmDecrypt(key, iv, ciphertext, tag)?.toString()).toBe("payload");
    expect(aesGcmDecrypt(key, iv, ciphertext, tag.subarray(0, 12))?.toString()).toBe("payload"); // 96-bit ICV: allowed
    const bad = Buffer.from(tag);
    bad[15] = bad[15]! ^ 1;
    expect(aesGcmDecrypt(key, iv, ciphertext, bad)).toBeNull();
    for (const n of [0, 4, 8, 11]) {
      expect(() => aesGcmDecrypt(key, iv, ciphertext, tag.subarray(0, n))).toThrow(
        expect.objectContaining({ code: "MALFORMED" }),
      );
    }
    expect(() => gcmParamsCheck(0, 16)).toThrow(CmsError);
    expect(() => gcmParamsCheck(12, 17)).toThrow(CmsError);
    gcmParamsCheck(12, 12);
  });
  it("CBC: IVs other than 16 bytes and keys other than 16/24/32 bytes are refused; ragged ciphertext is null", () => {
    expect(() => cbcParamsCheck(8)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
    expect(() => aesCbcDecrypt(Buffer.alloc(20), Buffer.alloc(16), Buffer.alloc(16))).toThrow(CmsError);
    expect(aesCbcDecrypt(key, Buffer.alloc(16), Buffer.alloc(17))).toBeNull();
    expect(aesCbcDecrypt(key, Buffer.alloc(16), Buffer.alloc(0))).toBeNull();
  });
});

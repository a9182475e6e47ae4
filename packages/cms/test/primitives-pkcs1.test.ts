import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  rsaPkcs1v15DecryptImplicit,
  rsaPkcs1v15DecryptStrict,
  rsaPkcs1v15Encrypt,
} from "../src/primitives/rsa-pkcs1v15.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");

interface Pkcs1Test {
  tcId: number;
  msg: string;
  ct: string;
  result: "valid" | "invalid" | "acceptable";
}

describe("Wycheproof RSAES-PKCS1-v1_5 decryption (primitives/rsa-pkcs1v15)", () => {
  for (const bits of [2048, 3072, 4096]) {
    const file = `rsa_pkcs1_${bits}_test.json`;
    it(file, () => {
      const data = JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as {
        testGroups: { privateKeyPkcs8: string; tests: Pkcs1Test[] }[];
      };
      const failures: string[] = [];
      let run = 0;
      let invalid = 0;
      for (const g of data.testGroups) {
        const key = createPrivateKey({ key: hex(g.privateKeyPkcs8), format: "der", type: "pkcs8" });
        const syntheticSeen = new Set<string>();
        const invalidCts = new Set<string>();
        for (const t of g.tests) {
          run++;
          const ct = hex(t.ct);
          const strict = rsaPkcs1v15DecryptStrict(key, ct);
          if (t.result === "valid") {
            const msg = hex(t.msg);
            if (!strict?.equals(msg)) failures.push(`${t.tcId}: strict valid failed`);
            // Implicit: the expected length gives the message; any other length gives a synthetic key instead.
            if (!rsaPkcs1v15DecryptImplicit(key, ct, msg.length).equals(msg)) failures.push(`${t.tcId}: implicit`);
            const other = rsaPkcs1v15DecryptImplicit(key, ct, msg.length + 1);
            if (other.length !== msg.length + 1 || (msg.length > 0 && other.subarray(1).equals(msg))) {
              failures.push(`${t.tcId}: length`);
            }
          } else if (t.result === "invalid") {
            invalid++;
            invalidCts.add(t.ct);
            // Every invalid padding: the same outcome, no plaintext (strict: null; implicit: a 32-byte key that is
            // deterministic per ciphertext and unrelated to the message).
            if (strict !== null) failures.push(`${t.tcId}: strict returned plaintext`);
            const a = rsaPkcs1v15DecryptImplicit(key, ct, 32);
            const b = rsaPkcs1v15DecryptImplicit(key, ct, 32);
            if (a.length !== 32 || !a.equals(b)) failures.push(`${t.tcId}: implicit not deterministic`);
            if (t.msg && a.includes(hex(t.msg)) && t.msg.length >= 8) failures.push(`${t.tcId}: implicit leaked`);
            syntheticSeen.add(a.toString("hex"));
          }
        }
        // Synthetic keys differ per ciphertext (not one constant an attacker could recognise).
        if (syntheticSeen.size !== invalidCts.size) failures.push("synthetic keys repeat");
      }
      console.log(`${file}: ${run} cases (${invalid} invalid)`);
      expect(run).toBeGreaterThan(0);
      expect(invalid).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
});

describe("PKCS#1 v1.5 with the openssl CLI", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealpost-pkcs1-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(repoRoot, "fixtures/pki/people/soc-chen/encrypt.key.pem");
  const key = createPrivateKey(readFileSync(keyPath));
  const other = createPrivateKey(readFileSync(path.join(repoRoot, "fixtures/pki/people/soc-lin/encrypt.key.pem")));

  it("openssl pkeyutl (PKCS#1 v1.5) encrypts a 32-byte key; the implicit decryption returns it", () => {
    const pub = path.join(dir, "pub.pem");
    writeFileSync(pub, createPublicKey(key).export({ type: "spki", format: "pem" }));
    const cek = randomBytes(32);
    writeFileSync(path.join(dir, "cek"), cek);
    const ct = execFileSync("openssl", ["pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", path.join(dir, "cek")]);
    expect(rsaPkcs1v15DecryptImplicit(key, ct, 32)).toEqual(cek);
    // The wrong private key: a 32-byte pseudo-random key, not an error, and not the CEK.
    const wrong = rsaPkcs1v15DecryptImplicit(other, ct, 32);
    expect(wrong).toHaveLength(32);
    expect(wrong.equals(cek)).toBe(false);
    expect(rsaPkcs1v15DecryptStrict(other, ct)).toBeNull();
  });

  it("our encryption decrypts with openssl pkeyutl", () => {
    const cek = randomBytes(24);
    const file = path.join(dir, "ours");
    writeFileSync(file, rsaPkcs1v15Encrypt(createPublicKey(key), cek));
    expect(execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", keyPath, "-in", file])).toEqual(cek);
  });

  it("a ciphertext of the wrong length or out of range gives a synthetic key, never an exception", () => {
    const short = randomBytes(100);
    expect(rsaPkcs1v15DecryptImplicit(key, short, 16)).toHaveLength(16);
    expect(rsaPkcs1v15DecryptStrict(key, short)).toBeNull();
    const tooBig = Buffer.alloc(256, 0xff);
    expect(rsaPkcs1v15DecryptImplicit(key, tooBig, 16)).toHaveLength(16);
    expect(rsaPkcs1v15DecryptStrict(key, tooBig)).toBeNull();
  });
});

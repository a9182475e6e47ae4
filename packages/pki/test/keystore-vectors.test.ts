import { createPublicKey, type KeyObject } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { PkiError } from "../src/errors.js";
import { loadKeystore } from "../src/keystore/load.js";
import { pkcs12Kdf } from "../src/keystore/pbe.js";
import { readPkcs12 } from "../src/keystore/pkcs12.js";
import { readDerPrivateKey } from "../src/keystore/private-key.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const vectors = path.resolve(repoRoot, "../shared/vectors");
const p12Dir = path.join(vectors, "pkcs12");

interface Case {
  file: string;
  password: string | null;
  also_accept_password?: string | null;
  expect: "ok" | "fail" | "ok-if-PBMAC1-supported";
  key?: number;
  certs?: number;
  friendly_name?: string | null;
  why: string;
}

const manifest = JSON.parse(readFileSync(path.join(p12Dir, "manifest.json"), "utf8")) as { cases: Case[] };
const bytes = (f: string) => new Uint8Array(readFileSync(path.join(p12Dir, f)));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof PkiError)) throw e; // anything but a typed error is a bug
    return e.code;
  }
}

describe("PKCS#12 vectors (shared/vectors/pkcs12/manifest.json)", () => {
  it("has cases", () => {
    console.log(`pkcs12 manifest cases: ${manifest.cases.length}`);
    expect(manifest.cases.length).toBeGreaterThan(10);
  });

  for (const c of manifest.cases) {
    it(`${c.file}: ${c.expect} (${c.why.slice(0, 60)})`, () => {
      const data = bytes(c.file);
      if (c.expect === "fail") {
        const code = codeOf(() => readPkcs12(data, c.password));
        expect(code).toBeDefined();
        expect(["MALFORMED", "UNSUPPORTED_ALGORITHM"]).toContain(code);
        return;
      }
      // "ok" and "ok-if-PBMAC1-supported": sealpost supports PBMAC1, so both must open.
      const r = readPkcs12(data, c.password);
      expect(r.keys.length).toBe(c.key ?? 1);
      expect(r.certs.length).toBe(c.certs ?? 1);
      for (const k of r.keys) expect(k.privateKey.type).toBe("private");
      if (c.friendly_name !== undefined && c.friendly_name !== null) {
        expect(r.certs.map((x) => x.friendlyName)).toContain(c.friendly_name);
      }
      if (c.file.includes("pbmac1")) expect(r.mac).toBe("pbmac1");
      if ("also_accept_password" in c) expect(readPkcs12(data, c.also_accept_password ?? null).keys.length).toBe(1);
      // The MAC rejects a wrong password with BAD_PIN, before anything is decrypted.
      expect(codeOf(() => readPkcs12(data, "badpass"))).toBe("BAD_PIN");
      // Key and certificate belong together.
      const pub = r.certs[0]!.cert.publicKey.export({ type: "spki", format: "der" });
      const fromKey = r.keys[0]!.privateKey;
      expect(Buffer.compare(pub, Buffer.from(createPublic(fromKey)))).toBe(0);
    });
  }

  it("the legacy files use the legacy ciphers and a SHA-1 MAC", () => {
    const r = readPkcs12(bytes("boringssl/openssl.p12"), "foo");
    expect(r.mac).toBe("hmac-sha1");
    expect(r.encryptionAlgorithms.sort()).toEqual(["1.2.840.113549.1.12.1.3", "1.2.840.113549.1.12.1.6"]);
    expect(readPkcs12(bytes("boringssl/pbes2_sha256.p12"), "foo").encryptionAlgorithms).toEqual([
      "1.2.840.113549.1.5.13",
      "1.2.840.113549.1.5.13",
    ]);
  });

  it("PKCS#12 KDF matches a published value (RFC 7292 KDF, SHA-1, 'smeg' vector from OpenSSL/BC tests)", () => {
    // Bouncy Castle PKCS12Test / OpenSSL pkcs12 KDF test: password "smeg", salt 0A58CF64530D823F, 1 iteration.
    const pw = Buffer.from("0073006d006500670000", "hex");
    const salt = Buffer.from("0A58CF64530D823F", "hex");
    expect(pkcs12Kdf("sha1", pw, salt, 1, 1, 24).toString("hex").toUpperCase()).toBe(
      "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3",
    );
    expect(pkcs12Kdf("sha1", pw, salt, 1, 2, 8).toString("hex").toUpperCase()).toBe("79993DFE048D3B76");
  });

  describe("loadKeystore applies sealpost's floor to vector files", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sealpost-p12v-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const copy = (f: string) => {
      const p = path.join(dir, path.basename(f));
      writeFileSync(p, bytes(f));
      return p;
    };
    it("SHA-1-signed certificates give WEAK_ALGORITHM naming SHA-1", async () => {
      const err = await loadKeystore(copy("boringssl/openssl.p12"), { pin: "foo" }).catch((e) => e);
      expect(err).toBeInstanceOf(PkiError);
      expect(err.code).toBe("WEAK_ALGORITHM");
      expect(err.message).toContain("SHA-1");
    });
    it("a PBES2/SHA-256 file with an RSA-2048 key opens", async () => {
      const ks = await loadKeystore(copy("boringssl/pbes2_sha256.p12"), { pin: "foo" });
      expect(ks.entries).toHaveLength(1);
      expect(ks.entries[0]!.cert.keyBits).toBe(2048);
    });
    it("a null-password file opens without a PIN", async () => {
      const r = readPkcs12(bytes("boringssl/null_password.p12"), null);
      expect(r.keys).toHaveLength(1);
    });
  });
});

describe("fuzz corpora: every input gives a result or a typed error", () => {
  const corpus = (name: string) => {
    const d = path.join(vectors, "fuzz-corpora", name);
    return readdirSync(d).map((f) => new Uint8Array(readFileSync(path.join(d, f))));
  };
  it("BoringSSL PKCS#12 corpus", () => {
    const files = corpus("boringssl-pkcs12_corpus");
    let typed = 0;
    for (const f of files) {
      for (const pw of ["foo", "", null]) if (codeOf(() => readPkcs12(f, pw)) !== undefined) typed++;
    }
    console.log(`pkcs12 corpus: ${files.length} files, ${typed} typed rejections`);
    expect(files.length).toBeGreaterThan(0);
  });
  it("BoringSSL PKCS#8 and private-key corpora", () => {
    const files = [...corpus("boringssl-pkcs8_corpus"), ...corpus("boringssl-privkey_corpus")];
    let ok = 0;
    for (const f of files) if (codeOf(() => readDerPrivateKey(f, "password")) === undefined) ok++;
    console.log(`private-key corpora: ${files.length} files, ${ok} parsed`);
    expect(files.length).toBeGreaterThan(50);
    expect(ok).toBeGreaterThan(0);
  });
});

function createPublic(k: KeyObject): Buffer {
  return createPublicKey(k).export({ type: "spki", format: "der" });
}

import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as asn1js from "asn1js";
import { afterAll, describe, expect, it } from "vitest";
import { parseCertificate } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { checkKeyUsage, pickKey } from "../src/key-usage.js";
import { loadKeystore } from "../src/keystore/load.js";
import { bmpPassword, pkcs12Kdf } from "../src/keystore/pbe.js";
import { readPkcs12 } from "../src/keystore/pkcs12.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const fx = path.join(repoRoot, "fixtures/pki");

interface Person {
  name: string;
  p12: string;
  pin: string;
  sign?: { cert: string; key: string; key_encrypted?: string };
  encrypt?: { cert: string; key: string };
  cert?: string;
  key?: string;
}
const manifest = JSON.parse(readFileSync(path.join(fx, "manifest.json"), "utf8")) as {
  people: Record<string, Person>;
  troubled: Record<string, Person>;
};
const f = (p: string) => path.join(fx, p);
const sha256Of = (p: string) => parseCertificate(readFileSync(f(p), "utf8")).sha256;

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(PkiError);
  return (e as PkiError).code;
}

describe("fixture keystores (fixtures/pki/manifest.json)", () => {
  for (const [id, person] of Object.entries(manifest.people)) {
    it(`${id}: the PKCS#12 opens with its PIN and pickKey chooses by key usage`, async () => {
      const ks = await loadKeystore(f(person.p12), { pin: person.pin });
      expect(ks.entries).toHaveLength(2);
      const sign = pickKey(ks, "sign");
      const enc = pickKey(ks, "encrypt");
      expect(sign.cert.sha256).toBe(sha256Of(person.sign!.cert));
      expect(enc.cert.sha256).toBe(sha256Of(person.encrypt!.cert));
      expect(sign.cert.commonName).toBe(person.name);
      expect(sign.chain.length).toBe(2); // GCA, then GRCA
      expect(sign.chain[1]!.selfIssued).toBe(true);
      expect(() => checkKeyUsage(sign.cert, "encrypt")).toThrow(PkiError);
      expect(() => checkKeyUsage(enc.cert, "sign")).toThrow(PkiError);
      checkKeyUsage(sign.cert, "sign");
      checkKeyUsage(enc.cert, "encrypt");
    });
  }

  it("a wrong PIN gives BAD_PIN (and the PIN is not in the message)", async () => {
    const p = manifest.people["soc-chen"]!;
    const e = await loadKeystore(f(p.p12), { pin: "soc-chen-PIN-9999" }).catch((x) => x);
    expect(e).toBeInstanceOf(PkiError);
    expect(e.code).toBe("BAD_PIN");
    expect(e.message).not.toContain("9999");
    expect(await codeOf(loadKeystore(f(p.p12), {}))).toBe("BAD_PIN");
  });

  it("the legacy PKCS#12 (3DES key bag, RC2-40 cert bag, SHA-1 MAC) opens; wrong PIN is BAD_PIN", async () => {
    const p = manifest.troubled.legacy_p12!;
    const ks = await loadKeystore(f(p.p12), { pin: p.pin });
    expect(ks.entries[0]!.cert.commonName).toBe(p.name);
    const raw = readPkcs12(new Uint8Array(readFileSync(f(p.p12))), p.pin);
    expect(raw.mac).toBe("hmac-sha1");
    expect(raw.encryptionAlgorithms).toContain("1.2.840.113549.1.12.1.3");
    expect(await codeOf(loadKeystore(f(p.p12), { pin: "legacy_p12-PIN-0001" }))).toBe("BAD_PIN");
  });

  it("RSA-1024 / SHA-1 material is refused, naming both reasons", async () => {
    const p = manifest.troubled.rsa1024_sha1!;
    const e = await loadKeystore(f(p.p12), { pin: p.pin }).catch((x) => x);
    expect(e).toBeInstanceOf(PkiError);
    expect(["WEAK_KEY", "WEAK_ALGORITHM"]).toContain(e.code);
    expect(e.message).toContain("RSA-1024 key: sealpost requires at least 2048 bits");
    expect(e.message).toContain("SHA-1");
  });

  it("usage-restricted keystores: NO_KEY for the missing purpose", async () => {
    const so = manifest.troubled.sign_only_usage!;
    const ks = await loadKeystore(f(so.p12), { pin: so.pin });
    expect(pickKey(ks, "sign").cert.commonName).toBe(so.name);
    expect(() => pickKey(ks, "encrypt")).toThrow(expect.objectContaining({ code: "NO_KEY" }));
    const eo = manifest.troubled.encrypt_only_usage!;
    const ks2 = await loadKeystore(f(eo.p12), { pin: eo.pin });
    expect(() => pickKey(ks2, "sign")).toThrow(expect.objectContaining({ code: "NO_KEY" }));
    expect(() => checkKeyUsage(ks2.entries[0]!.cert, "sign")).toThrow(expect.objectContaining({ code: "KEY_USAGE" }));
  });

  it("a PEM private key with its certificate file works", async () => {
    const p = manifest.people["tax-lee"]!;
    const ks = await loadKeystore(f(p.encrypt!.key), { certPath: f(p.encrypt!.cert) });
    expect(ks.entries).toHaveLength(1);
    expect(ks.entries[0]!.cert.commonName).toBe("李美玲"); // BMPString in the certificate
    expect(pickKey(ks, "encrypt").cert.sha256).toBe(sha256Of(p.encrypt!.cert));
    // The wrong certificate for the key: nothing matches.
    expect(await codeOf(loadKeystore(f(p.encrypt!.key), { certPath: f(p.sign!.cert) }))).toBe("NO_KEY");
  });

  it("an encrypted PKCS#8 PEM key opens with its PIN; wrong or missing PIN is BAD_PIN", async () => {
    const p = manifest.people["soc-lin"]!;
    const key = f(p.sign!.key_encrypted!);
    const ks = await loadKeystore(key, { pin: p.pin, certPath: f(p.sign!.cert) });
    expect(pickKey(ks, "sign").cert.commonName).toBe(p.name);
    expect(await codeOf(loadKeystore(key, { pin: "nope", certPath: f(p.sign!.cert) }))).toBe("BAD_PIN");
    expect(await codeOf(loadKeystore(key, { certPath: f(p.sign!.cert) }))).toBe("BAD_PIN");
  });

  it("missing and non-keystore files give IO and MALFORMED", async () => {
    expect(await codeOf(loadKeystore(f("does-not-exist.p12"), { pin: "x" }))).toBe("IO");
    expect(await codeOf(loadKeystore(f("README.md"), { pin: "x" }))).toBe("MALFORMED");
    expect(await codeOf(loadKeystore(f("root/grca.cert.der"), { pin: "x" }))).toBe("MALFORMED");
  });
});

describe("pickKey preferences", () => {
  it("prefers an explicit keyUsage over an absent one, then a currently valid certificate", async () => {
    const good = await loadKeystore(f(manifest.people["soc-chen"]!.p12), { pin: manifest.people["soc-chen"]!.pin });
    const exp = manifest.troubled.expired!;
    const expired = await loadKeystore(f(exp.p12), { pin: exp.pin });
    const sign = pickKey(good, "sign");
    const mixed = { source: "mixed", entries: [expired.entries[0]!, ...good.entries] };
    expect(pickKey(mixed, "sign").cert.sha256).toBe(sign.cert.sha256); // valid beats expired
    expect(pickKey(mixed, "sign", new Date("2021-06-01")).cert.sha256).toBe(expired.entries[0]!.cert.sha256);
    const noUsage = { ...sign, cert: { ...sign.cert, keyUsage: undefined } };
    const ks = { source: "x", entries: [noUsage, ...good.entries] };
    expect(pickKey(ks, "sign").cert.keyUsage).toBeDefined(); // explicit usage wins
    expect(pickKey({ source: "y", entries: [noUsage] }, "encrypt")).toBe(noUsage); // absent keyUsage allows all
    expect(() => pickKey({ source: "empty", entries: [] }, "sign")).toThrow(
      expect.objectContaining({ code: "NO_KEY" }),
    );
  });
});

describe("interop with the openssl CLI", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealpost-p12-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pin = "臺北 PIN 測試 ✓";
  const run = (args: string[]) =>
    execFileSync("openssl", args, { env: { ...process.env, P12PIN: pin }, stdio: ["ignore", "pipe", "pipe"] });

  const variants: { name: string; args: string[]; mac: string }[] = [
    {
      name: "AES-128 + HMAC-SHA-512",
      args: ["-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC", "-macalg", "sha512"],
      mac: "hmac-sha512",
    },
    {
      name: "PBES2 3DES + HMAC-SHA-384",
      args: ["-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC", "-macalg", "sha384"],
      mac: "hmac-sha384",
    },
    { name: "legacy 3DES/RC2-40", args: ["-legacy"], mac: "hmac-sha1" },
    {
      name: "unencrypted certificates",
      args: ["-certpbe", "NONE", "-macalg", "sha256", "-iter", "5000"],
      mac: "hmac-sha256",
    },
  ];
  for (const v of variants) {
    it(`opens an openssl pkcs12 -export file (${v.name}) with a Unicode PIN`, async () => {
      const p = manifest.people["tax-wang"]!;
      const out = path.join(dir, `${v.name.replace(/\W+/g, "_")}.p12`);
      run(
        [
          "pkcs12",
          "-export",
          "-inkey",
          f(p.sign!.key),
          "-in",
          f(p.sign!.cert),
          "-certfile",
          f("intermediate/chain.pem"),
        ].concat(v.args, ["-passout", "env:P12PIN", "-out", out]),
      );
      const ks = await loadKeystore(out, { pin });
      expect(ks.entries[0]!.cert.sha256).toBe(sha256Of(p.sign!.cert));
      expect(ks.entries[0]!.chain).toHaveLength(2);
      expect(readPkcs12(new Uint8Array(readFileSync(out)), pin).mac).toBe(v.mac);
      expect(await codeOf(loadKeystore(out, { pin: pin.slice(0, -1) }))).toBe("BAD_PIN");
    });
  }

  it("refuses an absurd MAC iteration count before deriving anything (KDF_LIMIT, not a stall)", async () => {
    // soc-chen's file with its MacData iteration count rewritten to 50 million.
    const pfx = asn1js.fromBER(readFileSync(f(manifest.people["soc-chen"]!.p12))).result as asn1js.Sequence;
    const macData = pfx.valueBlock.value[2] as asn1js.Sequence;
    macData.valueBlock.value[2] = new asn1js.Integer({ value: 50_000_000 });
    const out = path.join(dir, "many-iterations.p12");
    writeFileSync(out, Buffer.from(pfx.toBER()));
    const e = await loadKeystore(out, { pin: manifest.people["soc-chen"]!.pin }).catch((x) => x);
    expect(e).toBeInstanceOf(PkiError);
    expect(e.code).toBe("KDF_LIMIT");
    expect(e.message).toContain("50000000");
  });

  it("our PKCS#12 KDF equals openssl kdf PKCS12KDF (SHA-256, 1000 iterations, Unicode password)", () => {
    const salt = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const bmp = bmpPassword("Hello, 世界");
    for (const id of [1, 2, 3] as const) {
      const want = execFileSync("openssl", [
        "kdf",
        "-keylen",
        "40",
        "-kdfopt",
        "digest:SHA256",
        "-kdfopt",
        `hexpass:${bmp.toString("hex")}`,
        "-kdfopt",
        `hexsalt:${salt.toString("hex")}`,
        "-kdfopt",
        "iter:1000",
        "-kdfopt",
        `id:${id}`,
        "PKCS12KDF",
      ])
        .toString()
        .trim()
        .replace(/:/g, "")
        .toLowerCase();
      expect(pkcs12Kdf("sha256", bmp, salt, 1000, id, 40).toString("hex")).toBe(want);
    }
  });

  it("DER keys (PKCS#8, PKCS#1, encrypted PKCS#8) with a certificate bundle: entry and chain", async () => {
    const p = manifest.people["tax-chang"]!;
    const key = createPrivateKey(readFileSync(f(p.encrypt!.key)));
    const bundle = path.join(dir, "bundle.pem");
    writeFileSync(bundle, readFileSync(f(p.encrypt!.cert), "utf8") + readFileSync(f("intermediate/chain.pem"), "utf8"));
    const files = {
      "pkcs8.der": key.export({ type: "pkcs8", format: "der" }),
      "pkcs1.der": key.export({ type: "pkcs1", format: "der" }),
      "enc.der": key.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: pin }),
    };
    for (const [name, der] of Object.entries(files)) {
      writeFileSync(path.join(dir, name), der, { mode: 0o600 });
      const ks = await loadKeystore(path.join(dir, name), { pin, certPath: bundle });
      expect(ks.entries).toHaveLength(1);
      expect(ks.entries[0]!.cert.sha256).toBe(sha256Of(p.encrypt!.cert));
      expect(ks.entries[0]!.chain.map((c) => c.isCA)).toEqual([true, true]);
    }
    expect(await codeOf(loadKeystore(path.join(dir, "enc.der"), { pin: "x", certPath: bundle }))).toBe("BAD_PIN");
  });

  it("a key and certificate in one PEM file load together", async () => {
    const p = manifest.people["soc-huang"]!;
    const both = path.join(dir, "both.pem");
    writeFileSync(both, readFileSync(f(p.sign!.cert), "utf8") + readFileSync(f(p.sign!.key), "utf8"), { mode: 0o600 });
    const ks = await loadKeystore(both, {});
    expect(ks.entries[0]!.cert.commonName).toBe(p.name);
  });
});

import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFile, signFile } from "../src/index.js";
import { pattern, person, pkiDir, tempDir, testTrust } from "./helpers.js";
import { openssl } from "./openssl.js";

/**
 * Only keys whose certificate allows keyEncipherment (keyAgreement for EC) open files. An attacker who encrypts to a
 * person's signing certificate (openssl does not look at key usage) must not get that person's signing key to
 * decrypt: the keystore of an IC card holds both keys, and the signing key is for signatures only.
 */
const chen = person("soc-chen");
const wang = person("tax-wang");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const f = (name: string) => join(tmp.dir, name);

let toSigningCert: string;
let toEncryptionCert: string;

beforeAll(async () => {
  writeFileSync(f("content.bin"), pattern(50_000, 3));
  await signFile(f("content.bin"), f("signed.p7s"), { signer: chen.sign });
  for (const [out, cert] of [
    ["to-sign.p7m", wang.files.sign.cert],
    ["to-encrypt.p7m", wang.files.encrypt.cert],
  ] as const) {
    await openssl([
      "cms",
      "-encrypt",
      "-binary",
      "-aes-256-gcm",
      "-recip",
      join(pkiDir, cert),
      "-keyopt",
      "rsa_padding_mode:oaep",
      "-keyopt",
      "rsa_oaep_md:sha256",
      "-in",
      f("signed.p7s"),
      "-outform",
      "DER",
      "-out",
      f(out),
    ]);
  }
  toSigningCert = f("to-sign.p7m");
  toEncryptionCert = f("to-encrypt.p7m");
});

describe("open uses encryption keys only", () => {
  it("a file sealed to the signing certificate is not opened with the signing key (NOT_A_RECIPIENT)", async () => {
    const dir = f("out-sign");
    mkdirSync(dir);
    const err = await openFile(toSigningCert, join(dir, "x.csv"), {
      keys: [wang.sign, wang.encrypt], // both keys of the card, as a PKCS#12 holds them
      trust: testTrust(),
    }).catch((e) => e);
    expect(err.code).toBe("NOT_A_RECIPIENT");
    expect(err.message).toMatch(
      /sealed to your certificate 王建民 .*digitalSignature, nonRepudiation.*not for decryption/,
    );
    expect(err.details.refusedKeys).toEqual([
      expect.objectContaining({
        serialHex: wang.sign.cert.serialHex,
        keyUsage: ["digitalSignature", "nonRepudiation"],
      }),
    ]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the same keystore opens the file sealed to the encryption certificate (control)", async () => {
    const out = f("ok.csv");
    const r = await openFile(toEncryptionCert, out, { keys: [wang.sign, wang.encrypt], trust: testTrust() });
    expect(r.recipient.serialHex).toBe(wang.encrypt.cert.serialHex);
    expect(existsSync(out)).toBe(true);
  });
});

describe("an EC card: the ECDH recipient's key must allow key agreement", () => {
  const tsai = person("soc-tsai"); // EC P-256: signing certificate digitalSignature/nonRepudiation, encryption keyAgreement
  const ecFile = async (name: string, cert: string) => {
    await openssl(
      ["cms", "-encrypt", "-binary", "-aes-256-gcm", "-recip", join(pkiDir, cert), "-in", f("signed.p7s")].concat([
        "-outform",
        "DER",
        "-out",
        f(name),
      ]),
    );
    return f(name);
  };

  it("a file encrypted by openssl to the EC signing certificate is not opened with the signing key", async () => {
    const dir = f("out-ec-sign");
    mkdirSync(dir);
    const err = await openFile(await ecFile("ec-to-sign.p7m", tsai.files.sign.cert), join(dir, "x.csv"), {
      keys: [tsai.sign, tsai.encrypt],
      trust: testTrust(),
    }).catch((e) => e);
    expect(err.code).toBe("NOT_A_RECIPIENT");
    expect(err.details.refusedKeys).toEqual([
      expect.objectContaining({
        serialHex: tsai.sign.cert.serialHex,
        keyUsage: ["digitalSignature", "nonRepudiation"],
      }),
    ]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the file encrypted to the EC encryption certificate opens through ECDH (control)", async () => {
    const out = f("ec-ok.csv");
    const r = await openFile(await ecFile("ec-to-encrypt.p7m", tsai.files.encrypt.cert), out, {
      keys: [tsai.sign, tsai.encrypt],
      trust: testTrust(),
    });
    expect(r.checks).toContain("key-agreement");
    expect(r.recipient.serialHex).toBe(tsai.encrypt.cert.serialHex);
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { inspect, openFile, type SealOptions, sealFile, signFile, verifyFile } from "../src/index.js";
import { intermediate, intermediatePem, pattern, person, pkiDir, rootPem, tempDir, testTrust } from "./helpers.js";
import { openssl } from "./openssl.js";

/**
 * ECDSA signatures and ECDH recipients (RFC 5753) against OpenSSL, both ways, with AES-256-GCM (AuthEnvelopedData)
 * and AES-256-CBC (EnvelopedData). Fixture EC staff: soc-tsai (P-256), tax-chiu (P-384); RSA staff soc-chen, tax-wang.
 */

const tsai = person("soc-tsai");
const chiu = person("tax-chiu");
const chen = person("soc-chen");
const wang = person("tax-wang");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const f = (name: string) => join(tmp.dir, name);
const pk = (p: string) => join(pkiDir, p);
const content = pattern(1024 * 1024 + 77_777, 15);
writeFileSync(f("content.bin"), content);
const trust = testTrust();

async function opensslOpen(sealed: string, who: ReturnType<typeof person>, tag: string): Promise<Buffer> {
  const inner = f(`${tag}.inner`);
  await openssl([
    "cms",
    "-decrypt",
    "-inform",
    "DER",
    "-in",
    sealed,
    "-recip",
    pk(who.files.encrypt.cert),
    "-inkey",
    pk(who.files.encrypt.key),
    "-out",
    inner,
  ]);
  const out = f(`${tag}.out`);
  await openssl([
    "cms",
    "-verify",
    "-inform",
    "DER",
    "-in",
    inner,
    "-CAfile",
    rootPem,
    "-certfile",
    intermediatePem,
    "-out",
    out,
  ]);
  return readFileSync(out);
}

describe("sealpost seals to EC recipients -> openssl cms -decrypt | -verify", () => {
  const cases: [string, Partial<SealOptions>, ReturnType<typeof person>, ReturnType<typeof person>][] = [
    ["GCM, P-256 recipient, ECDSA P-256 signer", {}, tsai, tsai],
    ["CBC, P-256 recipient, ECDSA P-256 signer", { cipher: "aes-256-cbc" }, tsai, tsai],
    ["GCM, P-384 recipient, ECDSA P-384 signer", {}, chiu, chiu],
    ["CBC, P-384 recipient, RSA signer", { cipher: "aes-256-cbc" }, chiu, chen],
    ["GCM, P-384 recipient by SKI (rKeyId)", { recipientIdentifier: "subjectKeyIdentifier" }, chiu, chen],
  ];
  for (const [name, opts, recipient, signer] of cases) {
    it(name, async () => {
      const tag = name.replace(/\W+/g, "_");
      const sealed = f(`${tag}.p7m`);
      const r = await sealFile(f("content.bin"), sealed, {
        recipients: [recipient.encrypt.cert],
        signer: signer.sign,
        ...opts,
      });
      expect(r.keyTransport).toBe(recipient === chiu ? "ecdh-sha384kdf-aes256-wrap" : "ecdh-sha256kdf-aes256-wrap");
      if (signer !== chen)
        expect(r.signatureAlgorithm).toBe(signer === chiu ? "ecdsa-with-sha384" : "ecdsa-with-sha256");
      expect((await opensslOpen(sealed, recipient, tag)).equals(content)).toBe(true);
      // and sealpost opens its own file with the EC key
      const o = await openFile(sealed, f(`${tag}.sp`), {
        keys: [recipient.encrypt],
        trust,
        intermediates: [intermediate],
      });
      expect(o.checks).toEqual(expect.arrayContaining(["key-agreement", "signature", "trust"]));
      expect(readFileSync(f(`${tag}.sp`)).equals(content)).toBe(true);
    });
  }

  it("mixed RSA and EC recipients: each opens its copy, OpenSSL too", async () => {
    const sealed = f("mixed.p7m");
    const r = await sealFile(f("content.bin"), sealed, {
      recipients: [wang.encrypt.cert, tsai.encrypt.cert, chiu.encrypt.cert],
      signer: tsai.sign,
      cipher: "aes-256-cbc",
    });
    expect(r.keyTransport).toBe("rsaes-oaep-sha256, ecdh-sha256kdf-aes256-wrap, ecdh-sha384kdf-aes256-wrap");
    const ins = await inspect(Readable.from([readFileSync(sealed)]));
    expect(ins.recipients.map((x) => [x.type, x.version])).toEqual([
      ["ktri", 0],
      ["kari", 3],
      ["kari", 3],
    ]);
    for (const who of [wang, tsai, chiu]) {
      expect((await opensslOpen(sealed, who, `mixed-${who.files.name}`)).equals(content)).toBe(true);
      const out = f(`mixed-${who.files.email}.sp`);
      await openFile(sealed, out, { keys: [who.encrypt], trust, intermediates: [intermediate] });
      expect(readFileSync(out).equals(content)).toBe(true);
    }
    // EnvelopedData with a kari is version 2 (RFC 5652 6.1)
    expect(
      (await openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", sealed])).match(/version: (\d)/)?.[1],
    ).toBe("2");
  });
});

describe("openssl cms -sign | openssl cms -encrypt to EC recipients -> sealpost opens", () => {
  const cases: [string, string[], ReturnType<typeof person>, ReturnType<typeof person>][] = [
    ["GCM, P-256, OpenSSL's default KDF (SHA-1), ECDSA P-256 signer", ["-aes-256-gcm"], tsai, tsai],
    ["CBC, P-256, SHA-256 KDF, ECDSA P-256 signer", ["-aes-256-cbc", "-keyopt", "ecdh_kdf_md:sha256"], tsai, tsai],
    ["GCM, P-384, SHA-384 KDF, ECDSA P-384 signer", ["-aes-256-gcm", "-keyopt", "ecdh_kdf_md:sha384"], chiu, chiu],
    ["CBC, P-384, SHA-256 KDF, RSA signer", ["-aes-256-cbc", "-keyopt", "ecdh_kdf_md:sha256"], chiu, chen],
  ];
  for (const [name, encArgs, recipient, signer] of cases) {
    it(name, async () => {
      const tag = `ossl-${name.replace(/\W+/g, "_")}`;
      const signed = f(`${tag}.p7s`);
      await openssl([
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        f("content.bin"),
        "-signer",
        pk(signer.files.sign.cert),
        "-inkey",
        pk(signer.files.sign.key),
        "-md",
        signer === chiu ? "sha384" : "sha256",
        "-out",
        signed,
      ]);
      const sealed = f(`${tag}.p7m`);
      await openssl([
        "cms",
        "-encrypt",
        "-binary",
        "-inform",
        "DER",
        "-outform",
        "DER",
        "-in",
        signed,
        encArgs[0]!,
        "-recip",
        pk(recipient.files.encrypt.cert),
        ...encArgs.slice(1), // -keyopt applies to the -recip before it
        "-out",
        sealed,
      ]);
      const out = f(`${tag}.out`);
      const o = await openFile(sealed, out, { keys: [recipient.encrypt], trust, intermediates: [intermediate] });
      expect(readFileSync(out).equals(content)).toBe(true);
      const kdf = encArgs[2]?.split(":")[1] ?? "sha1";
      expect(o.keyTransport).toMatch(new RegExp(`^ecdh-${kdf}kdf-aes(128|192|256)-wrap$`));
      expect(o.signatureAlgorithm).toBe(
        signer === chen ? "sha256WithRSAEncryption" : signer === chiu ? "ecdsa-with-sha384" : "ecdsa-with-sha256",
      );
      expect(o.checks).toEqual(expect.arrayContaining(["key-agreement", "signature", "message-digest", "trust"]));
      // someone else's EC key of the same agency is not a recipient
      await expect(
        openFile(sealed, f(`${tag}.x`), { keys: [tsai === recipient ? chiu.encrypt : tsai.encrypt], trust }),
      ).rejects.toMatchObject({
        code: "NOT_A_RECIPIENT",
      });
    });
  }
});

describe("ECDSA SignedData both ways", () => {
  it("sealpost signFile (P-256 and P-384) verifies with openssl", async () => {
    for (const who of [tsai, chiu]) {
      const out = f(`ecdsa-${who.files.email}.p7s`);
      const r = await signFile(f("content.bin"), out, { signer: who.sign });
      expect(r.signatureAlgorithm).toBe(who === chiu ? "ecdsa-with-sha384" : "ecdsa-with-sha256");
      await openssl([
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        out,
        "-CAfile",
        rootPem,
        "-certfile",
        intermediatePem,
        "-out",
        `${out}.out`,
      ]);
      expect(readFileSync(`${out}.out`).equals(content)).toBe(true);
    }
  });

  it("openssl cms -sign with an EC key verifies in sealpost; a flipped signature byte is BAD_SIGNATURE", async () => {
    const out = f("ossl-ecdsa.p7s");
    await openssl([
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-outform",
      "DER",
      "-in",
      f("content.bin"),
      "-signer",
      pk(tsai.files.sign.cert),
      "-inkey",
      pk(tsai.files.sign.key),
      "-md",
      "sha256",
      "-out",
      out,
    ]);
    const v = await verifyFile(out, { trust, intermediates: [intermediate] });
    expect(v.signatureAlgorithm).toBe("ecdsa-with-sha256");
    expect(v.signer.cert.sha256).toBe(tsai.sign.cert.sha256);
    const bytes = readFileSync(out);
    // the ECDSA signature is the last OCTET STRING of the SignerInfo, near the end of the file
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10]! ^= 0x01;
    writeFileSync(f("ossl-ecdsa-bad.p7s"), flipped);
    await expect(verifyFile(f("ossl-ecdsa-bad.p7s"), { trust, intermediates: [intermediate] })).rejects.toMatchObject({
      code: "BAD_SIGNATURE",
    });
  });
});

import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type SealOptions, inspect, openFile, sealFile, signFile, verifyFile } from "../src/index.js";
import { intermediate, intermediatePem, pattern, person, pkiDir, rootPem, tempDir, testTrust } from "./helpers.js";
import { openssl } from "./openssl.js";

const chen = person("soc-chen");
const wang = person("tax-wang");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const f = (name: string) => join(tmp.dir, name);
const pk = (p: string) => join(pkiDir, p);
const content = pattern(2 * 1024 * 1024 + 150_000, 77); // three 1 MiB segments in each layer
writeFileSync(f("content.bin"), content);

describe("sealpost -> openssl cms -decrypt | openssl cms -verify", () => {
  const cases: [string, Partial<SealOptions>][] = [
    ["GCM + OAEP + PKCS#1 v1.5 signature", {}],
    ["CBC + OAEP", { cipher: "aes-256-cbc" }],
    ["GCM + RSAES-PKCS1-v1_5", { keyTransport: "pkcs1" }],
    ["CBC + RSAES-PKCS1-v1_5 + PSS", { cipher: "aes-256-cbc", keyTransport: "pkcs1", signatureScheme: "pss" }],
    [
      "GCM + PSS/SHA-512 + SKI recipient",
      { signatureScheme: "pss", digest: "sha512", recipientIdentifier: "subjectKeyIdentifier" },
    ],
    ["CBC + SHA-384", { cipher: "aes-256-cbc", digest: "sha384" }],
  ];
  for (const [name, opts] of cases) {
    it(name, async () => {
      const sealed = f(`${name.replace(/\W+/g, "_")}.p7m`);
      await sealFile(f("content.bin"), sealed, { recipients: [wang.encrypt.cert], signer: chen.sign, ...opts });
      const inner = `${sealed}.inner`;
      const out = `${sealed}.out`;
      await openssl([
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        sealed,
        "-recip",
        pk(wang.files.encrypt.cert),
        "-inkey",
        pk(wang.files.encrypt.key),
        "-out",
        inner,
      ]);
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
      expect(readFileSync(out).equals(content)).toBe(true);
    });
  }

  it("signFile (attached and detached) verifies with openssl", async () => {
    await signFile(f("content.bin"), f("att.p7s"), { signer: chen.sign });
    await openssl(["cms", "-verify", "-inform", "DER", "-in", f("att.p7s"), "-CAfile", rootPem, "-out", f("att.out")]);
    expect(readFileSync(f("att.out")).equals(content)).toBe(true);
    const r = await signFile(f("content.bin"), f("det.p7s"), {
      signer: chen.sign,
      detached: true,
      signatureScheme: "pss",
    });
    expect(r.detached).toBe(true);
    expect(r.outputBytes).toBeLessThan(20_000);
    await openssl([
      "cms",
      "-verify",
      "-binary",
      "-inform",
      "DER",
      "-in",
      f("det.p7s"),
      "-content",
      f("content.bin"),
      "-CAfile",
      rootPem,
      "-out",
      f("det.out"),
    ]);
  });
});

describe("openssl cms -sign | openssl cms -encrypt -> sealpost openFile", () => {
  const matrix: { cipher: string; oaep: boolean; stream: boolean; keyid: boolean; expect: string }[] = [
    { cipher: "-aes-256-gcm", oaep: true, stream: true, keyid: false, expect: "aes-256-gcm" },
    { cipher: "-aes-256-gcm", oaep: false, stream: false, keyid: true, expect: "aes-256-gcm" },
    { cipher: "-aes-128-cbc", oaep: true, stream: false, keyid: false, expect: "aes-128-cbc" },
    { cipher: "-aes-128-cbc", oaep: false, stream: true, keyid: true, expect: "aes-128-cbc" },
    { cipher: "-aes-256-cbc", oaep: false, stream: false, keyid: false, expect: "aes-256-cbc" },
    { cipher: "-aes-256-cbc", oaep: true, stream: true, keyid: true, expect: "aes-256-cbc" },
    { cipher: "-des3", oaep: false, stream: true, keyid: false, expect: "des-ede3-cbc" },
    { cipher: "-aes-128-gcm", oaep: true, stream: false, keyid: true, expect: "aes-128-gcm" },
    { cipher: "-aes-192-gcm", oaep: false, stream: true, keyid: false, expect: "aes-192-gcm" },
    { cipher: "-aes-192-cbc", oaep: true, stream: false, keyid: false, expect: "aes-192-cbc" },
  ];
  let signedStream: string;
  let signedDer: string;
  it("openssl signs (with and without -stream)", async () => {
    signedStream = f("ossl-signed-stream.der");
    signedDer = f("ossl-signed.der");
    const base = [
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-md",
      "sha256",
      "-signer",
      pk(chen.files.sign.cert),
      "-inkey",
      pk(chen.files.sign.key),
      "-certfile",
      intermediatePem,
      "-outform",
      "DER",
      "-in",
      f("content.bin"),
    ];
    await openssl([...base, "-stream", "-out", signedStream]);
    await openssl([...base, "-out", signedDer]);
    const a = await inspect(createReadStream(signedStream));
    const b = await inspect(createReadStream(signedDer));
    expect(a.encoding).toBe("ber-indefinite");
    expect(b.encoding).toBe("der");
    for (const i of [a, b]) {
      expect(i.contentType).toBe("signedData");
      expect(i.contentBytes).toBe(content.length);
      expect(i.signer?.serialHex).toBe(chen.sign.cert.serialHex);
      expect(i.certificates.map((c) => c.serialHex)).toContain(chen.sign.cert.serialHex);
    }
    const v = await verifyFile(signedStream, { trust: testTrust(), outPath: f("ossl-verified.bin") });
    expect(v.signer.cert.serialHex).toBe(chen.sign.cert.serialHex);
    expect(readFileSync(f("ossl-verified.bin")).equals(content)).toBe(true);
  });
  for (const m of matrix) {
    const name = `${m.cipher} ${m.oaep ? "OAEP-SHA256" : "PKCS#1 v1.5"}${m.stream ? " -stream" : ""}${m.keyid ? " -keyid" : ""}`;
    it(name, async () => {
      const enc = f(`${name.replace(/\W+/g, "_")}.p7m`);
      const args = [
        "cms",
        "-encrypt",
        "-binary",
        "-outform",
        "DER",
        "-in",
        m.stream ? signedStream : signedDer,
        m.cipher,
      ];
      if (m.stream) args.push("-stream");
      if (m.keyid) args.push("-keyid");
      args.push("-recip", pk(wang.files.encrypt.cert));
      if (m.oaep) args.push("-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256");
      args.push("-out", enc);
      await openssl(args);
      const ins = await inspect(createReadStream(enc));
      expect(ins.recipients[0]?.[m.keyid ? "subjectKeyIdHex" : "serialHex"]).toBe(
        m.keyid ? wang.encrypt.cert.subjectKeyIdHex : wang.encrypt.cert.serialHex,
      );
      expect(ins.encoding).toBe(m.stream ? "ber-indefinite" : "der");
      const out = f(`${name.replace(/\W+/g, "_")}.out`);
      const r = await openFile(enc, out, { keys: [chen.encrypt, wang.encrypt], trust: testTrust() });
      expect(readFileSync(out).equals(content)).toBe(true);
      expect(r.cipher).toBe(m.expect);
      expect(r.keyTransport).toBe(m.oaep ? "rsaes-oaep-sha256" : "rsaes-pkcs1-v1_5");
      expect(r.signer?.commonName).toBe("陳怡君");
      expect(r.nesting).toBe("id-data");
      if (m.cipher === "-des3") expect(r.warnings.join(" ")).toMatch(/3DES/);
    });
  }

  it("openssl RSA-PSS/SHA-384 signer identified by SKI (-keyid), then -aes-256-gcm: opens", async () => {
    const signed = f("ossl-pss.der");
    await openssl([
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-md",
      "sha384",
      "-keyid",
      "-signer",
      pk(chen.files.sign.cert),
      "-inkey",
      pk(chen.files.sign.key),
      "-keyopt",
      "rsa_padding_mode:pss",
      "-outform",
      "DER",
      "-in",
      f("content.bin"),
      "-out",
      signed,
    ]);
    const ins = await inspect(createReadStream(signed));
    expect(ins.signer?.subjectKeyIdHex).toBe(chen.sign.cert.subjectKeyIdHex);
    const enc = f("ossl-pss.p7m");
    await openssl([
      "cms",
      "-encrypt",
      "-binary",
      "-outform",
      "DER",
      "-in",
      signed,
      "-aes-256-gcm",
      "-recip",
      pk(wang.files.encrypt.cert),
      "-out",
      enc,
    ]);
    const r = await openFile(enc, f("ossl-pss.out"), {
      keys: [wang.encrypt],
      trust: testTrust(),
      intermediates: [intermediate],
    });
    expect(readFileSync(f("ossl-pss.out")).equals(content)).toBe(true);
    expect(r.signatureAlgorithm).toBe("rsassa-pss-sha384");
    expect(r.digest).toBe("sha384");
    expect(r.signer?.cert.serialHex).toBe(chen.sign.cert.serialHex);
  });

  it("openssl detached signature verifies with verifyFile; altered content is TAMPERED", async () => {
    const sig = f("ossl-detached.p7s");
    await openssl([
      "cms",
      "-sign",
      "-binary",
      "-md",
      "sha256",
      "-signer",
      pk(chen.files.sign.cert),
      "-inkey",
      pk(chen.files.sign.key),
      "-outform",
      "DER",
      "-in",
      f("content.bin"),
      "-out",
      sig,
    ]);
    // the file carries no intermediate: without one the signer is untrusted, with it the signature verifies
    await expect(verifyFile(sig, { trust: testTrust(), content: f("content.bin") })).rejects.toMatchObject({
      code: "UNTRUSTED_SIGNER",
      details: { pkiCode: "UNTRUSTED" },
    });
    const v = await verifyFile(sig, { trust: testTrust(), content: f("content.bin"), intermediates: [intermediate] });
    expect(v.detached).toBe(true);
    expect(v.contentBytes).toBe(content.length);
    const altered = Buffer.from(content);
    altered[1000]! ^= 1;
    writeFileSync(f("altered.bin"), altered);
    await expect(
      verifyFile(sig, { trust: testTrust(), content: f("altered.bin"), intermediates: [intermediate] }),
    ).rejects.toMatchObject({
      code: "TAMPERED",
    });
  });

  it.each([
    ["SMIME", "smime"],
    ["PEM", "pem"],
  ])("openssl -outform %s (text armor) opens directly", async (outform, armor) => {
    const enc = f(`armored.${armor}`);
    await openssl([
      "cms",
      "-encrypt",
      "-binary",
      "-outform",
      outform,
      "-in",
      signedDer,
      "-aes-256-gcm",
      "-recip",
      pk(wang.files.encrypt.cert),
      "-out",
      enc,
    ]);
    expect((await inspect(createReadStream(enc))).armor).toBe(armor);
    const out = f(`armored-${armor}.out`);
    const r = await openFile(enc, out, { keys: [wang.encrypt], trust: testTrust() });
    expect(readFileSync(out).equals(content)).toBe(true);
    expect(r.signer?.commonName).toBe("陳怡君");
  });
});

import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KeyEntry } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BerReader, ByteSource } from "../src/ber/reader.js";
import { type EnvelopeWriterOptions, OID, type SealOptions, openFile, sealFile } from "../src/index.js";
import { readSignedData } from "../src/signed-data-reader.js";
import { TempOutput } from "../src/temp-output.js";
import { envelope, manifest, pattern, person, pkiDir, signedData, tempDir, testTrust, troubled } from "./helpers.js";
import { openssl } from "./openssl.js";

const chen = person("soc-chen");
const wang = person("tax-wang");
const lee = person("tax-lee");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const content = pattern(2 * 1024 * 1024 + 300_000, 5); // three 1 MiB segments in each layer

/** Offsets of the regions of a sealed file, found with the project's own BER reader. */
async function layout(buf: Buffer) {
  const r = new BerReader(ByteSource.from([buf]));
  await r.readHeader();
  await r.readElement();
  await r.readHeader();
  await r.readHeader();
  await r.readElement(); // version
  const riStart = r.position;
  await r.readElement();
  const riEnd = r.position;
  const eci = await r.readHeader();
  await r.readElement();
  await r.readElement();
  const ec = await r.readHeader();
  const segments: { start: number; end: number }[] = [];
  while (!(await r.atEnd(ec))) {
    const h = await r.readHeader();
    segments.push({ start: h.contentStart, end: h.end });
    await r.skipContent(h);
  }
  await r.atEnd(eci);
  let mac: { start: number; end: number } | undefined;
  if (buf[r.position] === 0x04) {
    const h = await r.readHeader();
    mac = { start: h.contentStart, end: h.end };
  }
  return { riStart, riEnd, segments, mac };
}

function flip(buf: Buffer, at: number): Buffer {
  const b = Buffer.from(buf);
  b[at]! ^= 0x01;
  return b;
}

let n = 0;
/** Open `sealed` into a fresh folder; returns the error code and asserts that nothing is left behind on failure. */
async function openCode(sealed: Buffer, keys: KeyEntry[] = [wang.encrypt], extra: object = {}): Promise<string> {
  const dir = join(tmp.dir, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "result.csv");
  try {
    await openFile(Readable.from([sealed]), out, { keys, trust: testTrust(), ...extra });
    expect(existsSync(out)).toBe(true);
    return "ok";
  } catch (e) {
    expect(readdirSync(dir)).toEqual([]); // no output, no temp file
    const c = (e as { code?: string }).code;
    if (!c) throw e;
    return c;
  }
}

async function sealBuf(opts: Partial<SealOptions> = {}): Promise<Buffer> {
  const inPath = join(tmp.dir, `in-${n}.bin`);
  writeFileSync(inPath, content);
  const out = join(tmp.dir, `sealed-${n++}.p7m`);
  await sealFile(inPath, out, { recipients: [wang.encrypt.cert], signer: chen.sign, ...opts });
  return readFileSync(out);
}

/** Build an inner SignedData with the project's writer, let `mutate` change it, then encrypt it properly. */
function envelopeAround(inner: Buffer, opts: Partial<EnvelopeWriterOptions> = {}): Buffer {
  return envelope(inner, { recipients: [wang.encrypt.cert], ...opts });
}
async function signedInner(
  data: Buffer,
  signer: KeyEntry = chen.sign,
  signingTime = new Date("2026-05-04T03:02:01Z"),
): Promise<Buffer> {
  return signedData(data, { signer, signingTime });
}

describe("tamper matrix (GCM file)", () => {
  let sealed: Buffer;
  let L: Awaited<ReturnType<typeof layout>>;
  beforeAll(async () => {
    sealed = await sealBuf();
    L = await layout(sealed);
    expect(await openCode(sealed)).toBe("ok");
  });

  it("header byte => MALFORMED", async () => {
    expect(await openCode(flip(sealed, 0))).toBe("MALFORMED");
  });
  it("content type OID => UNSUPPORTED_ALGORITHM", async () => {
    expect(await openCode(flip(sealed, 12))).toBe("UNSUPPORTED_ALGORITHM");
  });
  it("RecipientInfo serial => NOT_A_RECIPIENT", async () => {
    const ri = sealed.subarray(L.riStart, L.riEnd);
    const serial = Buffer.from([0x02, 0x02, 0x10, 0x07]);
    const at = L.riStart + ri.indexOf(serial) + 3;
    expect(await openCode(flip(sealed, at))).toBe("NOT_A_RECIPIENT");
  });
  it("RecipientInfo encrypted key => TAMPERED", async () => {
    expect(await openCode(flip(sealed, L.riEnd - 5))).toBe("TAMPERED");
  });
  it("ciphertext start / middle / end => TAMPERED", async () => {
    const segs = L.segments;
    const mid = segs[Math.floor(segs.length / 2)]!;
    for (const at of [
      segs[0]!.start,
      segs[0]!.start + 40,
      Math.floor((mid.start + mid.end) / 2),
      segs.at(-1)!.end - 1,
    ]) {
      expect(await openCode(flip(sealed, at))).toBe("TAMPERED");
    }
  });
  it("GCM tag => TAMPERED", async () => {
    expect(await openCode(flip(sealed, L.mac!.end - 1))).toBe("TAMPERED");
    expect(await openCode(flip(sealed, L.mac!.start))).toBe("TAMPERED");
  });
  it("truncated at many offsets => TRUNCATED", async () => {
    const cuts = [1, 2, 10, L.riStart + 3, L.riEnd, L.segments[0]!.start + 1, L.segments[1]!.start - 2];
    for (let i = 1; i < 12; i++) cuts.push(Math.floor((sealed.length * i) / 12));
    for (let k = 1; k <= 14; k++) cuts.push(sealed.length - k);
    for (const c of cuts) expect([c, await openCode(sealed.subarray(0, c))]).toEqual([c, "TRUNCATED"]);
  });
  it("appended garbage => MALFORMED", async () => {
    expect(await openCode(Buffer.concat([sealed, Buffer.from("garbage")]))).toBe("MALFORMED");
    expect(await openCode(Buffer.concat([sealed, Buffer.alloc(2)]))).toBe("MALFORMED");
  });
  it("empty input => TRUNCATED", async () => {
    expect(await openCode(Buffer.alloc(0))).toBe("TRUNCATED");
  });
});

describe("tamper matrix (CBC file)", () => {
  it("ciphertext middle / last block => TAMPERED; truncation => TRUNCATED", async () => {
    const sealed = await sealBuf({ cipher: "aes-256-cbc" });
    const L = await layout(sealed);
    expect(L.mac).toBeUndefined();
    const mid = L.segments[Math.floor(L.segments.length / 2)]!;
    expect(await openCode(flip(sealed, Math.floor((mid.start + mid.end) / 2)))).toBe("TAMPERED");
    expect(await openCode(flip(sealed, L.segments.at(-1)!.end - 1))).toBe("TAMPERED");
    expect(await openCode(flip(sealed, L.segments.at(-1)!.end - 17))).toBe("TAMPERED");
    // the first block holds the inner headers: garbled, the file is no longer signed content
    expect(["TAMPERED", "UNSIGNED_CONTENT"]).toContain(await openCode(flip(sealed, L.segments[0]!.start)));
    expect(await openCode(sealed.subarray(0, sealed.length - 30))).toBe("TRUNCATED");
  });
});

describe("inner SignedData tampered, then encrypted properly (tag passes)", () => {
  it("unchanged inner opens (control)", async () => {
    expect(await openCode(envelopeAround(await signedInner(content)))).toBe("ok");
  });
  it("signature byte => BAD_SIGNATURE", async () => {
    const inner = await signedInner(content);
    // inner ends with the signature, then 3 end-of-contents (6 bytes)
    expect(await openCode(envelopeAround(flip(inner, inner.length - 7)))).toBe("BAD_SIGNATURE");
  });
  it("signed attribute (signing time) => BAD_SIGNATURE", async () => {
    const inner = await signedInner(content);
    const at = inner.indexOf(Buffer.from("260504030201Z", "ascii"));
    expect(at).toBeGreaterThan(0);
    expect(await openCode(envelopeAround(flip(inner, at + 3)))).toBe("BAD_SIGNATURE");
  });
  it("signer certificate altered => BAD_SIGNATURE (signingCertificateV2)", async () => {
    const inner = await signedInner(content);
    const der = Buffer.from(chen.sign.cert.der);
    const at = inner.indexOf(der);
    expect(at).toBeGreaterThan(0);
    const err = await openFile(Readable.from([envelopeAround(flip(inner, at + der.length - 3))]), join(tmp.dir, "x1"), {
      keys: [wang.encrypt],
      trust: testTrust(),
    }).catch((e) => e);
    expect(err.code).toBe("BAD_SIGNATURE");
    expect(err.details.reason).toBe("signing-certificate-mismatch");
  });
  it("content byte => TAMPERED (message digest)", async () => {
    const inner = await signedInner(content);
    const err = await openFile(Readable.from([envelopeAround(flip(inner, 5000))]), join(tmp.dir, "x2"), {
      keys: [wang.encrypt],
      trust: testTrust(),
    }).catch((e) => e);
    expect(err.code).toBe("TAMPERED");
    expect(err.details.reason).toBe("message-digest");
  });
  it("inner ends early => MALFORMED (GCM authentic, structure incomplete)", async () => {
    const inner = await signedInner(content);
    expect(await openCode(envelopeAround(inner.subarray(0, inner.length - 4)))).toBe("MALFORMED");
  });
  it("bytes after the inner ContentInfo => MALFORMED", async () => {
    expect(await openCode(envelopeAround(Buffer.concat([await signedInner(content), Buffer.from([1, 2, 3])])))).toBe(
      "MALFORMED",
    );
  });
  it("unsigned content => UNSIGNED_CONTENT unless allowUnsigned", async () => {
    const env = envelopeAround(content);
    expect(await openCode(env)).toBe("UNSIGNED_CONTENT");
    expect(await openCode(env, [wang.encrypt], { allowUnsigned: true })).toBe("ok");
  });
  it("strict RFC 5652 nesting (id-signedData, bare SignedData) opens", async () => {
    const inner = await signedInner(content);
    // strip ContentInfo { OID, [0] { ... } } framing: 30 80 06 09 <oid> a0 80 ... 00 00 00 00
    const bare = inner.subarray(2 + 11 + 2, inner.length - 4);
    const out = join(tmp.dir, "strict.out");
    const r = await openFile(Readable.from([envelopeAround(bare, { encryptedContentType: OID.signedData })]), out, {
      keys: [wang.encrypt],
      trust: testTrust(),
    });
    expect(r.nesting).toBe("id-signedData");
    expect(readFileSync(out).equals(content)).toBe(true);
  });
  it("impostor signer (self-signed, same name) => UNTRUSTED_SIGNER", async () => {
    const impostor = troubled("impostor");
    const err = await openFile(
      Readable.from([envelopeAround(await signedInner(content, { ...impostor, chain: [] }, new Date()))]),
      join(tmp.dir, "x3"),
      {
        keys: [wang.encrypt],
        trust: testTrust(),
      },
    ).catch((e) => e);
    expect(err.code).toBe("UNTRUSTED_SIGNER");
    expect(err.details.pkiCode).toBe("UNTRUSTED");
  });
  it("expired signer => UNTRUSTED_SIGNER with pkiCode EXPIRED", async () => {
    const err = await openFile(
      Readable.from([envelopeAround(await signedInner(content, troubled("expired")))]),
      join(tmp.dir, "x4"),
      {
        keys: [wang.encrypt],
        trust: testTrust(),
      },
    ).catch((e) => e);
    expect(err.code).toBe("UNTRUSTED_SIGNER");
    expect(err.details.pkiCode).toBe("EXPIRED");
  });
});

describe("keys and certificates refused or mismatched", () => {
  it("PKCS#1 v1.5 transport with the wrong private key => TAMPERED (implicit rejection)", async () => {
    const sealed = await sealBuf({ keyTransport: "pkcs1" });
    const liar: KeyEntry = { cert: wang.encrypt.cert, privateKey: lee.encrypt.privateKey, chain: [] };
    expect(await openCode(sealed, [liar])).toBe("TAMPERED");
    const cbc = await sealBuf({ keyTransport: "pkcs1", cipher: "aes-256-cbc" });
    expect(await openCode(cbc, [liar])).toBe("TAMPERED");
  });
  it("OAEP with the wrong private key => TAMPERED", async () => {
    const liar: KeyEntry = { cert: wang.encrypt.cert, privateKey: lee.encrypt.privateKey, chain: [] };
    expect(await openCode(await sealBuf(), [liar])).toBe("TAMPERED");
  });
  it("seal refuses weak, mis-used or expired certificates", async () => {
    const out = join(tmp.dir, "never.p7m");
    const tries: [Partial<SealOptions>, string][] = [
      [{ signer: troubled("rsa1024_sha1") }, "WEAK_ALGORITHM"],
      [{ signer: troubled("encrypt_only_usage") }, "KEY_USAGE"],
      [{ recipients: [troubled("sign_only_usage").cert] }, "KEY_USAGE"],
      [{ recipients: [troubled("expired").cert] }, "EXPIRED"],
      [{ recipients: [troubled("not_yet_valid").cert] }, "NOT_YET_VALID"],
    ];
    for (const [opts, code] of tries) {
      const err = await sealFile(join(tmp.dir, "in-0.bin"), out, {
        recipients: [wang.encrypt.cert],
        signer: chen.sign,
        ...opts,
      }).catch((e) => e);
      expect(err.code).toBe(code);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe("signature checks that need a foreign signer (openssl) or a rewritten SignerInfo", () => {
  it("CMSAlgorithmProtection not matching the SignerInfo's signature algorithm => BAD_SIGNATURE", async () => {
    const inner = await signedInner(content);
    // sha256WithRSAEncryption -> rsaEncryption in the SignerInfo (same length; the signature itself still verifies)
    const from = Buffer.from("06092a864886f70d01010b", "hex");
    const at = inner.lastIndexOf(from);
    const changed = Buffer.from(inner);
    changed[at + from.length - 1] = 0x01;
    const err = await openFile(Readable.from([envelopeAround(changed)]), join(tmp.dir, "x5"), {
      keys: [wang.encrypt],
      trust: testTrust(),
    }).catch((e) => e);
    expect(err.code).toBe("BAD_SIGNATURE");
    expect(err.details.reason).toBe("algorithm-protection-mismatch");
  });

  it.each([
    ["RSA-1024 signer", "rsa1024_sha1", "sha256"],
    ["SHA-1 signature", undefined, "sha1"],
  ])("%s (signed by openssl) => WEAK_ALGORITHM", async (_name, kind, md) => {
    const t = kind ? (manifest.troubled as Record<string, { cert: string; key: string }>)[kind]! : chen.files.sign;
    const signed = join(tmp.dir, `weak-${md}.der`);
    const input = join(tmp.dir, "weak-in.bin");
    writeFileSync(input, content.subarray(0, 5000));
    await openssl([
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-md",
      md,
      "-signer",
      join(pkiDir, t.cert),
      "-inkey",
      join(pkiDir, t.key),
      "-outform",
      "DER",
      "-in",
      input,
      "-out",
      signed,
    ]);
    expect(await openCode(envelopeAround(readFileSync(signed)))).toBe("WEAK_ALGORITHM");
  });
});

describe("limits and temp files", () => {
  it("the buffered tail (certificates, signerInfos) is capped: MALFORMED beyond", async () => {
    const inner = await signedInner(content);
    const r = new BerReader(ByteSource.from([inner]));
    await r.readHeader();
    await r.readElement();
    await r.readHeader();
    await expect(readSignedData(r, await r.readHeader(), undefined, { tailLimit: 1000 })).rejects.toMatchObject({
      code: "MALFORMED",
    });
  });
  it("an output folder that does not exist => IO", async () => {
    const sealed = await sealBuf();
    await expect(
      openFile(Readable.from([sealed]), join(tmp.dir, "no-such-dir", "x.csv"), {
        keys: [wang.encrypt],
        trust: testTrust(),
      }),
    ).rejects.toMatchObject({ code: "IO" });
  });
  it("the temp file is created beside the target with mode 0600 and removed on abort", async () => {
    const target = join(tmp.dir, "mode-check.csv");
    const t = await TempOutput.create(target);
    expect(t.path.startsWith(join(tmp.dir, ".mode-check.csv.sealpost-"))).toBe(true);
    expect(t.path.endsWith(".tmp")).toBe(true);
    expect(statSync(t.path).mode & 0o777).toBe(0o600);
    await t.abort();
    expect(existsSync(t.path)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });
});

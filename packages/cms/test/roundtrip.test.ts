import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { SEGMENT_BYTES } from "../src/ber/writer.js";
import { type SealOptions, inspect, openFile, seal, sealFile } from "../src/index.js";
import { chunked, collect, pattern, person, tempDir, testTrust } from "./helpers.js";

const chen = person("soc-chen");
const wang = person("tax-wang");
const lee = person("tax-lee");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function sealToBuffer(data: Buffer, writeSize: number, options: SealOptions): Promise<Buffer> {
  const out = new PassThrough();
  const [, sealed] = await Promise.all([seal(chunked(data, writeSize), out, options), collect(out)]);
  return sealed;
}

let n = 0;
async function openBuffer(sealed: Buffer, keys = [wang.encrypt], extra: object = {}) {
  const out = join(tmp.dir, `out-${n++}.bin`);
  const res = await openFile(chunked(sealed, 65536), out, { keys, trust: testTrust(), ...extra });
  return { res, content: readFileSync(out) };
}

describe("seal/open round trip", () => {
  const CH = SEGMENT_BYTES; // every size around the segment boundaries of both layers
  const sizes = [0, 1, CH - 1, CH, CH + 1, 2 * CH + 500, 5 * CH + 7];
  for (const size of sizes) {
    it(`GCM/OAEP, ${size} bytes`, async () => {
      const data = pattern(size, size + 1);
      for (const w of size > 0 ? [1 + (size % 4093), 1 << 20] : [1]) {
        if (w === 1 && size > CH) continue;
        const sealed = await sealToBuffer(data, size <= 2 ? 1 : w, {
          recipients: [wang.encrypt.cert],
          signer: chen.sign,
        });
        const { res, content } = await openBuffer(sealed);
        expect(content.equals(data)).toBe(true);
        expect(res.contentBytes).toBe(size);
        expect(res.contentSha256).toBe(createHash("sha256").update(data).digest("hex"));
        expect(res.signed).toBe(true);
        expect(res.signer?.cert.serialHex).toBe(chen.sign.cert.serialHex);
        expect(res.cipher).toBe("aes-256-gcm");
        expect(res.nesting).toBe("id-data");
        expect(res.checks).toEqual(
          expect.arrayContaining(["recipient", "gcm-tag", "signature", "message-digest", "trust"]),
        );
      }
    });
  }

  it("writes of 1 byte over several chunks", async () => {
    const data = pattern(3 * 65536 + 3, 9);
    const sealed = await sealToBuffer(data, 1, { recipients: [wang.encrypt.cert], signer: chen.sign });
    // re-feed the sealed bytes one at a time too (every chunk split of the parser)
    const out = join(tmp.dir, "one-byte.bin");
    const res = await openFile(chunked(sealed, 1), out, { keys: [wang.encrypt], trust: testTrust() });
    expect(readFileSync(out).equals(data)).toBe(true);
    expect(res.contentBytes).toBe(data.length);
  });

  it("two recipients each open; the manifest round-trips", async () => {
    const data = pattern(100_000, 3);
    const manifest = {
      caseId: "C-2026-0001",
      senderAgency: "KHH-SOC",
      receivingAgency: "KHH-TAX",
      fileName: "申請名冊.csv",
      byteSize: 100_000,
      recordCount: 1234,
      uploadNo: "U-7",
    };
    const sealed = await sealToBuffer(data, 4096, {
      recipients: [wang.encrypt.cert, lee.encrypt.cert],
      signer: chen.sign,
      manifest,
      signingTime: new Date("2026-03-01T08:00:00Z"),
    });
    // what the server checks on upload: the recipients, without keys, as issuer + serial like CertInfo has them
    const ins = await inspect(chunked(sealed, 1000));
    expect(ins.contentType).toBe("authEnvelopedData");
    expect(ins.encoding).toBe("ber-indefinite");
    expect(ins.cipher).toBe("aes-256-gcm");
    expect(ins.totalBytes).toBe(sealed.length);
    expect(ins.encryptedContentBytes).toBeGreaterThan(data.length);
    expect(ins.recipients.map((r) => [r.type, r.issuer, r.serialHex, r.keyTransport])).toEqual(
      expect.arrayContaining(
        [wang.encrypt.cert, lee.encrypt.cert].map((c) => ["ktri", c.issuer, c.serialHex, "rsaes-oaep-sha256"]),
      ),
    );
    for (const k of [wang.encrypt, lee.encrypt]) {
      const { res, content } = await openBuffer(sealed, [k]);
      expect(content.equals(data)).toBe(true);
      // seal adds the recipients' certificate hashes (sorted) to the manifest it signs
      expect(res.manifest).toEqual({
        ...manifest,
        recipients: [wang.encrypt.cert.sha256, lee.encrypt.cert.sha256].sort(),
      });
      expect(res.signingTime?.toISOString()).toBe("2026-03-01T08:00:00.000Z");
      expect(res.recipient.serialHex).toBe(k.cert.serialHex);
    }
  });

  it("sealFile/openFile on disk; OUTPUT_EXISTS; no temp files left", async () => {
    const inPath = join(tmp.dir, "in.csv");
    writeFileSync(inPath, pattern(200_000, 4));
    const sealedPath = join(tmp.dir, "in.csv.p7m");
    const r = await sealFile(inPath, sealedPath, { recipients: [wang.encrypt.cert], signer: chen.sign });
    expect(r.contentBytes).toBe(200_000);
    expect(r.outputSha256).toBe(createHash("sha256").update(readFileSync(sealedPath)).digest("hex"));
    await expect(
      sealFile(inPath, sealedPath, { recipients: [wang.encrypt.cert], signer: chen.sign }),
    ).rejects.toMatchObject({
      code: "OUTPUT_EXISTS",
    });
    const outPath = join(tmp.dir, "opened.csv");
    const o = await openFile(sealedPath, outPath, { keys: [wang.encrypt], trust: testTrust() });
    expect(o.contentSha256).toBe(r.contentSha256);
    expect(readFileSync(outPath).equals(readFileSync(inPath))).toBe(true);
    await expect(openFile(sealedPath, outPath, { keys: [wang.encrypt], trust: testTrust() })).rejects.toMatchObject({
      code: "OUTPUT_EXISTS",
    });
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(existsSync(outPath)).toBe(true);
  });

  it("NOT_A_RECIPIENT lists the recipients", async () => {
    const sealed = await sealToBuffer(pattern(10), 10, {
      recipients: [wang.encrypt.cert, lee.encrypt.cert],
      signer: chen.sign,
    });
    const err = await openBuffer(sealed, [chen.encrypt]).catch((e) => e);
    expect(err.code).toBe("NOT_A_RECIPIENT");
    expect(err.details.recipients).toHaveLength(2);
    expect(err.details.recipients.map((r: { serialHex: string }) => r.serialHex).sort()).toEqual(
      [wang.encrypt.cert.serialHex, lee.encrypt.cert.serialHex].sort(),
    );
  });

  const matrix: Partial<SealOptions>[] = [
    { cipher: "aes-256-cbc" },
    { keyTransport: "pkcs1" },
    { cipher: "aes-256-cbc", keyTransport: "pkcs1" },
    { signatureScheme: "pss" },
    { digest: "sha384" },
    { digest: "sha512", signatureScheme: "pss", cipher: "aes-256-cbc" },
    { recipientIdentifier: "subjectKeyIdentifier" },
    { recipientIdentifier: "subjectKeyIdentifier", cipher: "aes-256-cbc", keyTransport: "pkcs1" },
    { includeChain: false },
  ];
  for (const opts of matrix) {
    it(`options ${JSON.stringify(opts)}`, async () => {
      const data = pattern(140_000, 11);
      const progress: number[] = [];
      const sealed = await sealToBuffer(data, 30_000, {
        recipients: [wang.encrypt.cert, lee.encrypt.cert],
        signer: chen.sign,
        onProgress: (n) => progress.push(n),
        ...opts,
      });
      expect(progress.at(-1)).toBe(data.length);
      const { res, content } = await openBuffer(
        sealed,
        [lee.encrypt],
        opts.includeChain === false ? { intermediates: [chen.sign.chain[0]!] } : {},
      );
      expect(content.equals(data)).toBe(true);
      expect(res.cipher).toBe(opts.cipher ?? "aes-256-gcm");
      expect(res.keyTransport).toBe(opts.keyTransport === "pkcs1" ? "rsaes-pkcs1-v1_5" : "rsaes-oaep-sha256");
      expect(res.digest).toBe(opts.digest ?? "sha256");
      expect(res.signatureAlgorithm).toMatch(opts.signatureScheme === "pss" ? /^rsassa-pss/ : /WithRSAEncryption$/);
      expect(res.checks).toContain(opts.cipher === "aes-256-cbc" ? "cbc-padding" : "gcm-tag");
      expect(res.checks).toEqual(
        expect.arrayContaining(["algorithm-protection", "signing-certificate-v2", "content-type", "trust"]),
      );
    });
  }
});

import { constants, createCipheriv, createDecipheriv, privateDecrypt } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { OIDS, ktri, tlv } from "../../../scripts/lib/hostile-cms.mjs";
import { attribute } from "../src/attributes.js";
import { encodeInteger, encodeOid } from "../src/ber/der.js";
import { BerReader, ByteSource } from "../src/ber/reader.js";
import { type SealOptions, inspect, openFile, seal } from "../src/index.js";
import { chunked, collect, pattern, person, tempDir, testTrust } from "./helpers.js";

/**
 * Version numbers (RFC 5652 6.1/6.2, RFC 5083) and the GCM parameters (RFC 5084) are checked on reading: a file
 * whose version byte was flipped, or whose tag is shorter than 16 bytes, is refused, while every nonce length
 * RFC 5084 allows (up to 16 bytes, as OpenSSL takes) opens.
 */

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chen = person("soc-chen");
const wang = person("tax-wang");
const content = pattern(300_000, 11);

async function sealBuf(opts: Partial<SealOptions> = {}): Promise<Buffer> {
  const out = new PassThrough();
  const [, sealed] = await Promise.all([
    seal(chunked(content, 65536), out, { recipients: [wang.encrypt.cert], signer: chen.sign, ...opts }),
    collect(out),
  ]);
  return sealed;
}

let n = 0;
/** Opens `file` with tax-wang's key; the result code, and nothing left behind on failure. */
async function openCode(file: Buffer): Promise<string> {
  const dir = join(tmp.dir, `v${n++}`);
  mkdirSync(dir);
  try {
    const r = await openFile(Readable.from([file]), join(dir, "out.csv"), { keys: [wang.encrypt], trust: testTrust() });
    expect(r.contentBytes).toBe(content.length);
    return "ok";
  } catch (e) {
    expect(readdirSync(dir)).toEqual([]);
    const code = (e as { code?: string }).code;
    if (!code) throw e;
    return code;
  }
}

const inspectCode = (file: Buffer) =>
  inspect([file]).then(
    () => "ok",
    (e: { code: string }) => e.code,
  );

/** Where the parts of a sealpost envelope are (all of sealpost's outer lengths are indefinite). */
async function layout(buf: Buffer) {
  const r = new BerReader(ByteSource.from([buf]));
  await r.readHeader();
  await r.readElement();
  await r.readHeader();
  await r.readHeader();
  const versionAt = r.position + 2; // 02 01 vv
  await r.readElement();
  const set = await r.readHeader();
  const riVersionAt = r.position + (buf[r.position + 1]! < 0x80 ? 2 : 2 + (buf[r.position + 1]! & 0x7f)) + 2;
  const ek = await (async () => {
    const ri = await r.readHeader();
    await r.readElement(); // version
    await r.readElement(); // rid
    await r.readElement(); // alg
    const e = await r.readHeader();
    const key = await r.src.read(e.length);
    await r.expectEnd(ri, "ri");
    return key;
  })();
  await r.expectEnd(set, "set");
  const eci = await r.readHeader();
  await r.readElement();
  const algStart = r.position;
  await r.readElement();
  const algEnd = r.position;
  const ec = await r.readHeader();
  const parts: Buffer[] = [];
  for await (const c of r.stringChunks(ec)) parts.push(Buffer.from(c));
  const ecEnd = r.position;
  await r.expectEnd(eci, "eci");
  const eciEnd = r.position;
  let mac: { start: number; end: number; tag: Buffer } | undefined;
  if (buf[r.position] === 0x04) {
    const start = r.position;
    const h = await r.readHeader();
    mac = { start, end: h.end, tag: await r.src.read(h.length) };
  }
  return {
    versionAt,
    riVersionAt,
    ek,
    algStart,
    algEnd,
    ecStart: ec.start,
    ecEnd,
    eciEnd,
    mac,
    ct: Buffer.concat(parts),
  };
}

function withByte(buf: Buffer, at: number, value: number): Buffer {
  const b = Buffer.from(buf);
  b[at] = value;
  return b;
}

describe("version numbers", () => {
  it("an AuthEnvelopedData whose version is not 0 is MALFORMED (RFC 5083), on open and inspect", async () => {
    const sealed = await sealBuf();
    const { versionAt } = await layout(sealed);
    expect(sealed[versionAt]).toBe(0);
    expect(await openCode(sealed)).toBe("ok");
    for (const v of [1, 2, 3, 4]) {
      expect(await openCode(withByte(sealed, versionAt, v)), `version ${v}`).toBe("MALFORMED");
      expect(await inspectCode(withByte(sealed, versionAt, v)), `version ${v}`).toBe("MALFORMED");
    }
  });

  it("EnvelopedData: 0 with issuerAndSerialNumber recipients, 2 with subjectKeyIdentifier ones; nothing else", async () => {
    const bySerial = await sealBuf({ cipher: "aes-256-cbc" });
    const bySki = await sealBuf({ cipher: "aes-256-cbc", recipientIdentifier: "subjectKeyIdentifier" });
    const a = await layout(bySerial);
    const b = await layout(bySki);
    expect([bySerial[a.versionAt], bySki[b.versionAt]]).toEqual([0, 2]);
    expect(await openCode(bySerial)).toBe("ok");
    expect(await openCode(bySki)).toBe("ok");
    for (const v of [1, 2, 3, 4]) expect(await openCode(withByte(bySerial, a.versionAt, v)), `v${v}`).toBe("MALFORMED");
    for (const v of [0, 1, 3, 4]) expect(await openCode(withByte(bySki, b.versionAt, v)), `v${v}`).toBe("MALFORMED");
  });

  it("a KeyTransRecipientInfo's version must match its identifier (0 issuerAndSerialNumber, 2 subjectKeyIdentifier)", async () => {
    const bySerial = await sealBuf();
    const bySki = await sealBuf({ recipientIdentifier: "subjectKeyIdentifier" });
    const a = await layout(bySerial);
    const b = await layout(bySki);
    expect([bySerial[a.riVersionAt], bySki[b.riVersionAt]]).toEqual([0, 2]);
    expect(await openCode(withByte(bySerial, a.riVersionAt, 2))).toBe("MALFORMED");
    expect(await openCode(withByte(bySki, b.riVersionAt, 0))).toBe("MALFORMED");
    expect(await inspectCode(withByte(bySki, b.riVersionAt, 3))).toBe("MALFORMED");
  });

  it("EnvelopedData with unprotectedAttrs is version 2, never 0", async () => {
    const sealed = await sealBuf({ cipher: "aes-256-cbc" });
    const l = await layout(sealed);
    const attrs = tlv(0xa1, attribute("1.2.3.4", [encodeOid("1.2.3.5")]));
    const withAttrs = Buffer.concat([sealed.subarray(0, l.eciEnd), attrs, sealed.subarray(l.eciEnd)]);
    expect(await openCode(withAttrs)).toBe("MALFORMED");
    expect(await openCode(withByte(withAttrs, l.versionAt, 2))).toBe("ok");
  });

  it("kari 3, kekri 4, pwri 0, ori with a type, and the EnvelopedData version they imply", async () => {
    const cbc = tlv(0x30, Buffer.from("060960864801650304012a", "hex"), tlv(0x04, Buffer.alloc(16)));
    const env = (version: number, ris: Buffer[]) =>
      Buffer.concat([
        tlv(
          0x30,
          OIDS.envelopedData,
          tlv(
            0xa0,
            tlv(
              0x30,
              encodeInteger(version),
              tlv(0x31, ...ris),
              tlv(0x30, OIDS.data, cbc, tlv(0x80, Buffer.alloc(16))),
            ),
          ),
        ),
      ]);
    const v = (x: number) => encodeInteger(x);
    const kari = (x: number) =>
      tlv(
        0xa1,
        v(x),
        tlv(0xa0, tlv(0x80, Buffer.alloc(4))),
        tlv(0x30, OIDS.rsaEncryption),
        // recipientEncryptedKeys: one key, to issuerAndSerialNumber (an empty Name, serial 1)
        tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30), v(1)), tlv(0x04, Buffer.alloc(40)))),
      );
    const kekri = (x: number) =>
      tlv(0xa2, v(x), tlv(0x30, tlv(0x04, Buffer.alloc(8))), tlv(0x30, OIDS.rsaEncryption), tlv(0x04, Buffer.alloc(8)));
    const pwri = (x: number) => tlv(0xa3, v(x), tlv(0x30, OIDS.rsaEncryption), tlv(0x04, Buffer.alloc(8)));
    const ori = tlv(0xa4, encodeOid("1.2.3.4"), tlv(0x04, Buffer.alloc(4)));
    const cases: [string, Buffer, string][] = [
      ["kari 3 in v2", env(2, [kari(3)]), "ok"],
      ["kari 2", env(2, [kari(2)]), "MALFORMED"],
      ["kari 3 in v0", env(0, [kari(3)]), "MALFORMED"],
      ["kekri 4 in v2", env(2, [kekri(4)]), "ok"],
      ["kekri 0", env(2, [kekri(0)]), "MALFORMED"],
      ["pwri 0 in v3", env(3, [pwri(0)]), "ok"],
      ["pwri 0 in v2", env(2, [pwri(0)]), "MALFORMED"],
      ["pwri 1", env(3, [pwri(1)]), "MALFORMED"],
      ["ori in v3", env(3, [ori]), "ok"],
      ["ori in v2", env(2, [ori]), "MALFORMED"],
      ["empty ori", env(3, [tlv(0xa4)]), "MALFORMED"],
      ["ktri 0 in v0", env(0, [ktri()]), "ok"],
      ["ktri 0 in v2", env(2, [ktri()]), "MALFORMED"],
      ["ktri 0 and kekri in v2", env(2, [ktri(), kekri(4)]), "ok"],
    ];
    for (const [name, file, want] of cases) expect(await inspectCode(file), name).toBe(want);
  });
});

describe("GCM parameters", () => {
  /** The sealed file re-encrypted under its own key with another nonce, ICV length and tag length. */
  async function regcm(sealed: Buffer, o: { nonce: Buffer; icvLen?: number; tagLength: number }): Promise<Buffer> {
    const l = await layout(sealed);
    const alg = (await new BerReader(ByteSource.from([sealed.subarray(l.algStart, l.algEnd)])).readElement()).subarray(
      2,
    );
    const iv = alg.subarray(alg.indexOf(Buffer.from([0x04, 0x0c])) + 2).subarray(0, 12);
    const cek = privateDecrypt(
      { key: wang.encrypt.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      l.ek,
    );
    const d = createDecipheriv("aes-256-gcm", cek, iv, { authTagLength: 16 });
    d.setAuthTag(l.mac!.tag);
    const plain = Buffer.concat([d.update(l.ct), d.final()]);
    const c = createCipheriv("aes-256-gcm", cek, o.nonce, { authTagLength: o.tagLength });
    const ct = Buffer.concat([c.update(plain), c.final()]);
    const params = tlv(0x30, tlv(0x04, o.nonce), ...(o.icvLen === undefined ? [] : [encodeInteger(o.icvLen)]));
    return Buffer.concat([
      sealed.subarray(0, l.algStart),
      tlv(0x30, OIDS.aes256Gcm, params),
      Buffer.from([0xa0, 0x80]),
      tlv(0x04, ct),
      Buffer.from([0, 0]),
      sealed.subarray(l.ecEnd, l.mac!.start),
      tlv(0x04, c.getAuthTag()),
      sealed.subarray(l.mac!.end),
    ]);
  }

  it("only full 16-byte tags open; nonces of 1 to 16 bytes open (RFC 5084), longer or empty ones do not", async () => {
    const sealed = await sealBuf();
    const nonce = (k: number) => Buffer.alloc(k, 0x42);
    const cases: [string, { nonce: Buffer; icvLen?: number; tagLength: number }, string][] = [
      ["12-byte nonce, 16-byte tag (as sealed)", { nonce: nonce(12), icvLen: 16, tagLength: 16 }, "ok"],
      ["16-byte nonce", { nonce: nonce(16), icvLen: 16, tagLength: 16 }, "ok"],
      ["8-byte nonce", { nonce: nonce(8), icvLen: 16, tagLength: 16 }, "ok"],
      ["1-byte nonce", { nonce: nonce(1), icvLen: 16, tagLength: 16 }, "ok"],
      ["17-byte nonce", { nonce: nonce(17), icvLen: 16, tagLength: 16 }, "UNSUPPORTED_ALGORITHM"],
      ["12-byte tag, aes-ICVlen 12", { nonce: nonce(12), icvLen: 12, tagLength: 12 }, "UNSUPPORTED_ALGORITHM"],
      ["12-byte tag, aes-ICVlen absent (default 12)", { nonce: nonce(12), tagLength: 12 }, "UNSUPPORTED_ALGORITHM"],
      ["15-byte tag, aes-ICVlen 15", { nonce: nonce(12), icvLen: 15, tagLength: 15 }, "UNSUPPORTED_ALGORITHM"],
      ["aes-ICVlen 11", { nonce: nonce(12), icvLen: 11, tagLength: 16 }, "MALFORMED"],
    ];
    for (const [name, o, want] of cases) expect(await openCode(await regcm(sealed, o)), name).toBe(want);
    // An empty nonce cannot be encrypted with; its parameters alone are refused.
    const empty = await regcm(sealed, { nonce: nonce(12), icvLen: 16, tagLength: 16 });
    const l = await layout(empty);
    const patched = Buffer.concat([
      empty.subarray(0, l.algStart),
      tlv(0x30, OIDS.aes256Gcm, tlv(0x30, tlv(0x04, Buffer.alloc(0)), encodeInteger(16))),
      empty.subarray(l.algEnd),
    ]);
    expect(await openCode(patched)).toBe("MALFORMED");
  });

  it("a tag of another length than the parameters state is TAMPERED", async () => {
    const sealed = await sealBuf();
    const l = await layout(sealed);
    const short = Buffer.concat([
      sealed.subarray(0, l.mac!.start),
      tlv(0x04, l.mac!.tag.subarray(0, 12)),
      sealed.subarray(l.mac!.end),
    ]);
    expect(await openCode(short)).toBe("TAMPERED");
  });
});

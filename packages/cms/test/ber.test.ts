import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OID_TRANSFER_MANIFEST } from "@sealpost/protocol";
import { describe, expect, it } from "vitest";
import {
  TAG,
  decode,
  decodeInteger,
  decodeOid,
  decodeTime,
  encodeInteger,
  encodeOid,
  encodeTime,
  tlv,
} from "../src/ber/der.js";
import { BerReader, ByteSource } from "../src/ber/reader.js";
import { STAGE_BYTES, SegmentWriter } from "../src/ber/writer.js";
import { decodeManifest, encodeManifest, inspect } from "../src/index.js";
import { pattern, vectorsDir } from "./helpers.js";

function splits(buf: Buffer, k: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += k) out.push(buf.subarray(i, i + k));
  return out;
}

describe("incremental BER reader", () => {
  const rfc31 = readFileSync(join(vectorsDir, "rfc4134/3.1.bin"));
  const rfc45 = readFileSync(join(vectorsDir, "rfc4134/4.5.bin"));
  it("reads RFC 4134 3.1 (indefinite, 2-segment constructed OCTET STRING) at every chunk split", async () => {
    const want = readFileSync(join(vectorsDir, "rfc4134/ExContent.bin"));
    for (let k = 1; k <= rfc31.length; k++) {
      const r = new BerReader(ByteSource.from(splits(rfc31, k)));
      const ci = await r.expect(TAG.SEQUENCE, "ContentInfo");
      expect(decodeOid(decode(await r.readElement()).content)).toBe("1.2.840.113549.1.7.1");
      const explicit = await r.expect(0xa0, "[0]");
      const os = await r.readHeader();
      expect(os.constructed).toBe(true);
      const parts: Buffer[] = [];
      for await (const c of r.stringChunks(os)) parts.push(c);
      expect(Buffer.concat(parts).equals(want)).toBe(true);
      await r.expectEnd(explicit, "[0]");
      await r.expectEnd(ci, "ContentInfo");
      expect(await r.src.atEof()).toBe(true);
    }
  });
  it("borrowed chunks (a reader that reuses one buffer): the same content at every chunk split", async () => {
    const want = readFileSync(join(vectorsDir, "rfc4134/ExContent.bin"));
    for (let k = 1; k <= rfc31.length; k++) {
      // One buffer for every chunk, scribbled over when the next chunk is pulled: kept views would go wrong.
      const shared = Buffer.alloc(k);
      const borrowedChunks = (async function* () {
        for (const piece of splits(rfc31, k)) {
          shared.fill(0xee);
          piece.copy(shared);
          yield shared.subarray(0, piece.length);
        }
        shared.fill(0xee);
      })();
      const r = new BerReader(ByteSource.from(borrowedChunks, undefined, true));
      const ci = await r.expect(TAG.SEQUENCE, "ContentInfo");
      expect(decodeOid(decode(await r.readElement()).content)).toBe("1.2.840.113549.1.7.1");
      const explicit = await r.expect(0xa0, "[0]");
      const os = await r.readHeader();
      const parts: Buffer[] = [];
      for await (const c of r.stringChunks(os)) parts.push(Buffer.from(c)); // consumed at once, as decryption does
      expect(Buffer.concat(parts).equals(want)).toBe(true);
      await r.expectEnd(explicit, "[0]");
      await r.expectEnd(ci, "ContentInfo");
      expect(await r.src.atEof()).toBe(true);
    }
  });
  it("inspect gives the same answer for every chunk size (RFC 4134 4.5, indefinite SignedData)", async () => {
    const whole = await inspect([rfc45]);
    for (const k of [1, 2, 3, 7, 64, 333]) {
      const r = await inspect(
        (async function* () {
          yield* splits(rfc45, k);
        })(),
      );
      expect(r).toEqual(whole);
    }
    expect(whole.contentBytes).toBe(28);
  });
  it("TRUNCATED at every cut of a small file, MALFORMED for trailing bytes", async () => {
    for (let cut = 0; cut < rfc31.length; cut++) {
      await expect(
        inspect(
          (async function* () {
            yield rfc31.subarray(0, cut);
          })(),
        ),
      ).rejects.toMatchObject({ code: "TRUNCATED" });
    }
    await expect(
      inspect(
        (async function* () {
          yield Buffer.concat([rfc31, Buffer.from([0])]);
        })(),
      ),
    ).rejects.toMatchObject({ code: "MALFORMED" });
  });
  it("refuses a primitive element with indefinite length and over-long length fields", async () => {
    for (const bad of [Buffer.from([0x04, 0x80, 0, 0]), Buffer.from([0x30, 0x88, 1, 2, 3, 4, 5, 6, 7, 8])]) {
      const r = new BerReader(ByteSource.from([bad]));
      await expect(r.readHeader()).rejects.toMatchObject({ code: "MALFORMED" });
    }
  });
  it("caps elements read whole", async () => {
    const big = tlv(0x04, Buffer.alloc(5000));
    const r = new BerReader(ByteSource.from([big]), 1000);
    await expect(r.readElement()).rejects.toMatchObject({ code: "MALFORMED" });
  });
});

describe("DER helpers", () => {
  it("OIDs round-trip, including sealpost's UUID arc", () => {
    for (const oid of [OID_TRANSFER_MANIFEST, "1.2.840.113549.1.9.16.1.23", "2.5.29.15", "0.9.2342"]) {
      expect(decodeOid(decode(encodeOid(oid)).content)).toBe(oid);
    }
  });
  it("INTEGERs: minimal, positive, from bytes", () => {
    expect(encodeInteger(0).toString("hex")).toBe("020100");
    expect(encodeInteger(128).toString("hex")).toBe("02020080");
    expect(encodeInteger(Buffer.from("0000ff", "hex")).toString("hex")).toBe("020200ff");
    expect(decodeInteger(Buffer.from("ff", "hex"))).toBe(-1n);
  });
  it("times: UTCTime before 2050, GeneralizedTime from 2050", () => {
    const a = new Date("2049-12-31T23:59:59Z");
    const b = new Date("2050-01-01T00:00:00Z");
    expect(encodeTime(a)[0]).toBe(TAG.UTCTime);
    expect(encodeTime(b)[0]).toBe(TAG.GeneralizedTime);
    expect(decodeTime(decode(encodeTime(a))).getTime()).toBe(a.getTime());
    expect(decodeTime(decode(encodeTime(b))).getTime()).toBe(b.getTime());
  });
  it("SegmentWriter cuts exact segments whatever the write sizes", () => {
    const out: Buffer[] = [];
    const w = new SegmentWriter((b) => out.push(Buffer.from(b)), 10);
    for (const n of [3, 10, 1, 25, 0, 4]) w.write(Buffer.alloc(n, n));
    w.flush();
    const r = decode(Buffer.concat([Buffer.from([0x24, 0x80]), ...out, Buffer.from([0, 0])]));
    expect(r.children.map((c) => c.content.length)).toEqual([10, 10, 10, 10, 3]);
  });
  it("SegmentWriter in retain mode: the same segments and bytes, large pieces passed on without copying", () => {
    const chunk = 3 * STAGE_BYTES;
    const pieces = [5, chunk, 1, 2 * chunk + 7, STAGE_BYTES - 1, STAGE_BYTES, 0, 3].map((n, i) => pattern(n, i + 1));
    const out: Buffer[] = [];
    const w = new SegmentWriter((b) => out.push(b), chunk, true);
    for (const p of pieces) w.write(p);
    w.flush();
    const all = Buffer.concat(pieces);
    const r = decode(Buffer.concat([Buffer.from([0x24, 0x80]), ...out, Buffer.from([0, 0])]));
    const sizes = r.children.map((c) => c.content.length);
    expect(sizes.slice(0, -1).every((n) => n === chunk)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(all.length);
    expect(Buffer.concat(r.children.map((c) => c.content)).equals(all)).toBe(true);
    // the 2*chunk+7 piece went out as views of the caller's buffer, not as copies
    const big = pieces[3]!;
    expect(out.some((b) => b.buffer === big.buffer && b.length >= chunk - 6)).toBe(true);
  });
  it("SegmentWriter in retain mode gathers one-byte writes into few buffers", () => {
    const out: Buffer[] = [];
    const w = new SegmentWriter((b) => out.push(b), 100_000, true);
    const data = pattern(250_000, 3);
    for (let i = 0; i < data.length; i++) w.write(data.subarray(i, i + 1));
    w.flush();
    const r = decode(Buffer.concat([Buffer.from([0x24, 0x80]), ...out, Buffer.from([0, 0])]));
    expect(r.children.map((c) => c.content.length)).toEqual([100_000, 100_000, 50_000]);
    expect(Buffer.concat(r.children.map((c) => c.content)).equals(data)).toBe(true);
    expect(out.length).toBeLessThan(3 + 2 * Math.ceil(250_000 / STAGE_BYTES) + 3);
  });
});

describe("transfer manifest", () => {
  it("round-trips every field (UTF-8 names) and ignores unknown tags", () => {
    const m = {
      caseId: "KHH-2026-000123",
      senderAgency: "高雄市政府社會局",
      receivingAgency: "高雄市稅捐稽徵處",
      fileName: "低收入戶申請名冊.csv",
      byteSize: 2 ** 40,
      recordCount: 0,
      uploadNo: "第 3 次",
    };
    const der = encodeManifest(m);
    expect(decodeManifest(der)).toEqual(m);
    const extended = Buffer.concat([
      Buffer.from([0x30, der[1]! + 3]),
      der.subarray(2),
      Buffer.from([0x87, 0x01, 0x01]),
    ]);
    expect(decodeManifest(extended)).toEqual(m);
    expect(decodeManifest(encodeManifest({}))).toEqual({});
    expect(() => encodeManifest({ byteSize: -1 })).toThrow();
  });
});

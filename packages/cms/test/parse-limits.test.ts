import { createHash } from "node:crypto";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import {
  HOSTILE,
  emptyCertificates,
  emptyElements,
  emptyOriginatorElements,
  emptyRecipients,
  emptySignerInfos,
  manyRecipients,
  shortSegments,
  tlv,
} from "../../../scripts/lib/hostile-cms.mjs";
import { attribute, parseAttributes } from "../src/attributes.js";
import { decode, encodeOid, setOf } from "../src/ber/der.js";
import { BerReader, ByteSource } from "../src/ber/reader.js";
import { LIMITS, inspect, openFile, seal } from "../src/index.js";
import { chunked, collect, pattern, person, resegment, tempDir, testTrust } from "./helpers.js";

/**
 * Per-structure limits, the node budget and the segment parser (functional checks; the timing and memory bounds
 * are in parse-bounds.test.ts). Each hostile input is streamed, and the bytes the parser pulled are counted: a
 * refusal must come after a bounded prefix, not after reading (or buffering) the whole input.
 */

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chen = person("soc-chen");
const wang = person("tax-wang");

/** Streams `chunks` and counts the bytes pulled. */
function counted(chunks: Iterable<Buffer>): { source: Iterable<Buffer>; pulled: () => number } {
  let pulled = 0;
  return {
    source: (function* () {
      for (const c of chunks) {
        pulled += c.length;
        yield c;
      }
    })(),
    pulled: () => pulled,
  };
}

async function refusal(chunks: Iterable<Buffer>): Promise<{ code: string; message: string; pulled: number }> {
  const c = counted(chunks);
  const e = await inspect(c.source).then(
    () => undefined,
    (err: unknown) => err as { code: string; message: string },
  );
  expect(e, "the input must be refused").toBeDefined();
  return { code: e!.code, message: e!.message, pulled: c.pulled() };
}

describe("per-structure limits", () => {
  it("the 16,777,186-byte payload of empty recipients (a4 00) is refused after reading 64 KiB", async () => {
    let total = 0;
    for (const c of emptyRecipients()) total += c.length;
    expect(total).toBe(16_777_186);
    const r = await refusal(emptyRecipients());
    expect(r.code).toBe("MALFORMED");
    // An empty [4] OtherRecipientInfo has no type: the first one is refused (the count limit is checked below).
    expect(r.message).toContain("an OtherRecipientInfo has no type");
    expect(r.pulled).toBeLessThanOrEqual(128 * 1024);
  });

  it("1,000 recipients are read; 1,001 are refused", async () => {
    const ok = await inspect([manyRecipients(1000)]);
    expect(ok.recipients).toHaveLength(1000);
    expect(ok.recipients[999]).toMatchObject({ type: "ktri", serialHex: (999 & 0x7f).toString(16).padStart(2, "0") });
    await expect(inspect([manyRecipients(1001)])).rejects.toMatchObject({
      code: "MALFORMED",
      message: expect.stringContaining("more than 1000 recipients"),
    });
  });

  it("a flood of certificates, signers, originator or skipped elements is refused after a bounded prefix", async () => {
    const size = 32 * 1024 * 1024;
    const cases: [string, Iterable<Buffer>, string, number][] = [
      ["certificates", emptyCertificates(size), "more than 64 certificates", 128 * 1024],
      ["signerInfos", emptySignerInfos(size), "more than 16 signers", 128 * 1024],
      ["originatorInfo", emptyOriginatorElements(size), "more than", 2 * 1024 * 1024],
      ["unknown content", emptyElements(size), `more than ${LIMITS.nodes} structures`, 2 * 1024 * 1024],
    ];
    for (const [name, chunks, says, maxPulled] of cases) {
      const r = await refusal(chunks);
      expect(r.code, name).toBe("MALFORMED");
      expect(r.message, name).toContain(says);
      expect(r.pulled, name).toBeLessThanOrEqual(maxPulled);
    }
  });

  it("a recipient list over 4 MiB, or one RecipientInfo over 256 KiB, is refused", async () => {
    const head = manyRecipients(1).subarray(0, 24); // up to and including the SET header (31 80)
    const ri = (bytes: number) =>
      tlv(
        0x30,
        tlv(0x02, Buffer.from([2])),
        tlv(0x80, Buffer.alloc(8)),
        tlv(0x30, Buffer.from("06092a864886f70d010101", "hex")),
        tlv(0x04, Buffer.alloc(bytes)),
      );
    const one = await refusal([Buffer.concat([head, ri(300 * 1024)])]);
    expect(one.code).toBe("MALFORMED");
    expect(one.message).toMatch(/claims \d+ bytes, more than the limit of 262144/);
    const list = await refusal([head, ...Array.from({ length: 18 }, () => ri(250 * 1024))]);
    expect(list.code).toBe("MALFORMED");
    expect(list.message).toContain(`larger than ${LIMITS.recipientInfosBytes} bytes`);
  });

  it("attribute sets and values are bounded", () => {
    const many = Array.from({ length: LIMITS.attributes + 1 }, (_, i) => attribute(`1.2.3.${i}`, [encodeOid("1.2.3")]));
    expect(() => parseAttributes(decode(setOf(many)))).toThrow(/more than 64 attributes/);
    const values = Array.from({ length: LIMITS.attributeValues + 1 }, (_, i) => encodeOid(`1.2.${i}`));
    expect(() => parseAttributes(decode(setOf([attribute("1.2.3", values)])))).toThrow(/more than 16 values/);
    expect(parseAttributes(decode(setOf(many.slice(0, 64)))).size).toBe(64);
  });

  it("every hostile kind gives a result or a typed error at 1 MiB", async () => {
    for (const [name, gen] of Object.entries(HOSTILE)) {
      const got = await inspect(gen(1 << 20)).then(
        (r) => `ok:${r.contentType}`,
        (e: { code?: string }) => e.code ?? `untyped ${e}`,
      );
      expect(got, name).toMatch(/^(ok:|MALFORMED|TRUNCATED|UNSUPPORTED_ALGORITHM)/);
    }
  });
});

describe("segment parser", () => {
  it("2-byte segments: the encrypted content is counted exactly", async () => {
    const r = await inspect(shortSegments(1 << 20));
    let segBytes = 0;
    for (const c of shortSegments(1 << 20)) segBytes += c.length;
    expect(r.encryptedContentBytes).toBeGreaterThan((1 << 19) - 1024);
    expect(r.encryptedContentBytes! % 2).toBe(0);
    expect(r.totalBytes).toBe(segBytes);
  });

  it("a sealed file re-segmented into 1-, 2- and mixed-size segments opens to the same content", async () => {
    const data = pattern(200_000, 3);
    const out = new PassThrough();
    const [, sealed] = await Promise.all([
      seal(chunked(data, 65536), out, { recipients: [wang.encrypt.cert], signer: chen.sign }),
      collect(out),
    ]);
    const want = createHash("sha256").update(data).digest("hex");
    const variants: [string, number[], boolean][] = [
      ["2-byte", [2], false],
      ["1-byte", [1], false],
      ["mixed", [1, 2, 3, 127, 128, 4095, 4096, 4097, 70_000], true],
    ];
    for (const [name, sizes, nest] of variants) {
      const file = await resegment(sealed, sizes, nest);
      expect(file.length, name).toBeGreaterThan(sealed.length);
      for (const split of [65536, 4093]) {
        const res = await openFile(chunked(file, split), join(tmp.dir, `${name}-${split}.out`), {
          keys: [wang.encrypt],
          trust: testTrust(),
        });
        expect(res.contentSha256, `${name} at ${split}`).toBe(want);
      }
    }
  });

  it("segments that overrun their parent, are not OCTET STRINGs or nest too deeply are MALFORMED", async () => {
    const wrap = (inner: Buffer) => {
      const r = new BerReader(ByteSource.from([inner]));
      return (async () => {
        const h = await r.readHeader();
        for await (const _ of r.stringChunks(h));
      })();
    };
    await expect(wrap(Buffer.from("2404040301020300", "hex"))).rejects.toMatchObject({ code: "MALFORMED" });
    await expect(wrap(Buffer.from("24800c0101 0000".replace(/ /g, ""), "hex"))).rejects.toMatchObject({
      code: "MALFORMED",
    });
    const deep = Buffer.concat([Buffer.alloc(2 * 40, 0), Buffer.alloc(0)]);
    for (let i = 0; i < 40; i++) deep.set([0x24, 0x80], i * 2);
    await expect(wrap(Buffer.concat([deep, Buffer.alloc(80)]))).rejects.toMatchObject({
      code: "MALFORMED",
      message: expect.stringContaining("nested too deeply"),
    });
    await expect(wrap(Buffer.from("2480040201", "hex"))).rejects.toMatchObject({ code: "TRUNCATED" });
  });
});

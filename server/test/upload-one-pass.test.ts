import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { inspect, sealFile } from "@sealpost/cms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChunkFeed } from "../src/files/chunk-feed.js";
import { receiveToTemp } from "../src/files/upload.js";
import { LocalFileStore } from "../src/files/store.js";
import { keyEntry, person, pkiPath } from "./helpers.js";
import { parseCertificate } from "@sealpost/pki";

/**
 * An upload is read once: as its bytes arrive they are counted, hashed, written to the temporary file and read as a
 * CMS envelope, so acceptFile never reads the file again (before, inspect re-read the whole file from disk).
 */

let dir: string;
let store: LocalFileStore;
let sealed: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sealpost-one-pass-"));
  store = new LocalFileStore(join(dir, "data"));
  await store.ensure();
  const plain = join(dir, "plain.bin");
  writeFileSync(plain, Buffer.alloc(600_000 + 17, 5));
  const out = join(dir, "sealed.p7m");
  await sealFile(plain, out, {
    recipients: [parseCertificate(readFileSync(pkiPath(person("tax-wang").encrypt.cert), "utf8"))],
    signer: keyEntry("soc-chen", "sign"),
  });
  sealed = readFileSync(out);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The file as a request body of `size`-byte chunks. */
const body = (bytes: Buffer, size = 65536) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );

describe("receiveToTemp", () => {
  test.each([7, 4096, 65536, 1 << 20])(
    "with %i-byte chunks: one pass gives the file, its SHA-256 and its envelope (as inspect of the file)",
    async (chunk) => {
      const file = await receiveToTemp(store, body(sealed, chunk), { maxBytes: 1 << 30 });
      try {
        expect(file.size).toBe(sealed.length);
        expect(file.sha256).toBe(createHash("sha256").update(sealed).digest("hex"));
        expect(readFileSync(file.tempPath).equals(sealed)).toBe(true);
        expect(file.envelope).toEqual({ ok: true, info: await inspect(Readable.from([sealed])) });
      } finally {
        rmSync(file.tempPath, { force: true });
      }
    },
    60_000,
  );

  test("a body that is not CMS is still received whole; the envelope says why it is not one", async () => {
    const junk = Buffer.alloc(300_000, 0x41);
    const file = await receiveToTemp(store, body(junk), { maxBytes: 1 << 30 });
    rmSync(file.tempPath, { force: true });
    expect(file.size).toBe(junk.length);
    expect(file.envelope?.ok).toBe(false);
  });

  test("trailing bytes after the envelope are reported by the reader", async () => {
    const file = await receiveToTemp(store, body(Buffer.concat([sealed, Buffer.from([0])])), { maxBytes: 1 << 30 });
    rmSync(file.tempPath, { force: true });
    expect(file.envelope?.ok).toBe(false);
  });

  test("too large: PAYLOAD_TOO_LARGE, the envelope reader ends, nothing left in tmp", async () => {
    await expect(receiveToTemp(store, body(sealed), { maxBytes: 100_000 })).rejects.toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
    });
    expect(await store.sweep(() => true)).toEqual({ temp: 0, orphans: 0 });
  });

  test("the reader paces the upload: a chunk is written only after the reader took the one before", async () => {
    let taken = 0;
    let maxAhead = 0;
    let written = 0;
    const slow = async (bytes: AsyncIterable<Uint8Array>) => {
      for await (const c of bytes) {
        taken += c.length;
        await new Promise((r) => setTimeout(r, 1));
      }
      return inspect(Readable.from([sealed]));
    };
    const src = body(Buffer.alloc(40 * 65536, 1));
    src.on("data", (c: Buffer) => {
      written += c.length;
      maxAhead = Math.max(maxAhead, written - taken);
    });
    const file = await receiveToTemp(store, src, { maxBytes: 1 << 30, readEnvelope: slow });
    rmSync(file.tempPath, { force: true });
    expect(taken).toBe(40 * 65536);
    // The source runs ahead of the reader by at most the stream buffers (a few chunks), never by the whole body.
    expect(maxAhead).toBeLessThan(10 * 65536);
  });
});

describe("ChunkFeed", () => {
  test("hands chunks over in order, ends, and drops pushes once the consumer stopped", async () => {
    const feed = new ChunkFeed();
    const got: number[] = [];
    const consumer = (async () => {
      for await (const c of feed) {
        got.push(c[0]!);
        if (got.length === 2) break;
      }
    })();
    for (let i = 0; i < 5; i++) await feed.push(Uint8Array.of(i));
    feed.end();
    await consumer;
    expect(got).toEqual([0, 1]);
    expect(feed.stopped).toBe(true);
  });

  test("fail() ends the consumer's iteration with the error", async () => {
    const feed = new ChunkFeed();
    const consumer = (async () => {
      for await (const _ of feed) {
        /* reads */
      }
    })();
    await feed.push(Uint8Array.of(1));
    feed.fail(new Error("aborted"));
    await expect(consumer).rejects.toThrow("aborted");
  });
});

/**
 * Measured bounds of parsing hostile input (the only timed tests of this package):
 * - any input costs at most linear time: the CPU time of a 4x-sized hostile input is compared with that of the
 *   1x-sized one (a quadratic parser gives 16x);
 * - at least 100 MB/s through segment parsing, even with 2-byte OCTET STRING segments;
 * - at most 64 MiB above baseline (peak RSS of a child process).
 *
 * Robust on a shared 2-core machine: CPU time of this process (process.cpuUsage), not wall time, so waiting for a
 * core does not count; each figure is the best of three runs after a warm-up (noise only ever adds time, so the
 * minimum is the parser's own cost); the bounds keep a wide margin (steady state is 250-450 MB/s under load 8).
 * This file runs in the "timing" group, after the rest of the suite (vitest.config.ts).
 */
import { execFile } from "node:child_process";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { HOSTILE, shortSegments } from "../../../scripts/lib/hostile-cms.mjs";
import { inspect, openStream, seal } from "../src/index.js";
import { chunked, collect, pattern, person, resegment, testTrust } from "./helpers.js";

const MiB = 1024 * 1024;
const wang = person("tax-wang");
const chen = person("soc-chen");

/** CPU milliseconds of `f` (best of `runs`), and what it gave (a result or a typed error code). */
async function cpu(f: () => Promise<unknown>, runs = 3): Promise<{ ms: number; outcome: string }> {
  let best = Number.POSITIVE_INFINITY;
  let outcome = "";
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    outcome = await f().then(
      () => "ok",
      (e: { code?: unknown }) => {
        if (typeof e?.code !== "string") throw e;
        return e.code;
      },
    );
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return { ms: best, outcome };
}

const openChunks = (chunks: Iterable<Buffer> | AsyncIterable<Buffer>) =>
  openStream(
    (async function* () {
      yield* chunks;
    })(),
    async () => {},
    { keys: [wang.encrypt], trust: testTrust() },
  );

/** A sealed file of `bytes` of content whose encrypted content is re-encoded as 2-byte segments. */
async function sealedInShortSegments(bytes: number): Promise<Buffer> {
  const out = new PassThrough();
  const [, sealed] = await Promise.all([
    seal(chunked(pattern(bytes, 5), MiB), out, { recipients: [wang.encrypt.cert], signer: chen.sign }),
    collect(out),
  ]);
  return resegment(sealed, [2]);
}

function* pieces(buf: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, off + size);
}

describe("parse bounds", () => {
  it("any input costs at most linear time: CPU(4x) <= 6 x CPU(1x) + 50 ms for every hostile kind", async () => {
    const rows: string[] = [];
    for (const [name, gen] of Object.entries(HOSTILE) as [string, (n: number) => Iterable<Buffer>][]) {
      for (const [op, run] of [
        ["inspect", (n: number) => inspect(gen(n))],
        ["open", (n: number) => openChunks(gen(n))],
      ] as const) {
        await cpu(() => run(MiB), 1); // warm-up
        const one = await cpu(() => run(8 * MiB));
        const four = await cpu(() => run(32 * MiB));
        rows.push(`${op} ${name}: 8 MiB ${one.ms.toFixed(0)} ms, 32 MiB ${four.ms.toFixed(0)} ms (${four.outcome})`);
        expect(four.outcome, `${op} ${name}`).toBe(one.outcome);
        expect(four.ms, `${op} ${name}: ${rows.at(-1)}`).toBeLessThan(6 * one.ms + 50);
      }
    }
    // A real sealed file (decryption, inner SignedData, signature) whose encrypted content is 2-byte segments.
    const small = await sealedInShortSegments(2 * MiB);
    const large = await sealedInShortSegments(8 * MiB);
    await cpu(() => openChunks(pieces(small)), 1);
    const one = await cpu(() => openChunks(pieces(small)));
    const four = await cpu(() => openChunks(pieces(large)));
    rows.push(
      `open sealed 2-byte segments: ${small.length} B ${one.ms.toFixed(0)} ms, ${large.length} B ${four.ms.toFixed(0)} ms`,
    );
    expect([one.outcome, four.outcome]).toEqual(["ok", "ok"]);
    expect(four.ms).toBeLessThan(6 * one.ms + 50);
    console.log(rows.join("\n"));
  }, 300_000);

  it("at least 100 MB/s through segment parsing with 2-byte segments (CPU time, inspect and open)", async () => {
    const size = 64 * MiB;
    await cpu(() => inspect(shortSegments(16 * MiB)), 1);
    const { ms, outcome } = await cpu(() => inspect(shortSegments(size)));
    expect(outcome).toBe("ok");
    const mbps = size / 1e6 / (ms / 1000);
    const sealed = await sealedInShortSegments(16 * MiB);
    await cpu(() => openChunks(pieces(sealed)), 1);
    const opened = await cpu(() => openChunks(pieces(sealed)));
    expect(opened.outcome).toBe("ok");
    const openMbps = sealed.length / 1e6 / (opened.ms / 1000);
    console.log(
      `2-byte segments: inspect ${mbps.toFixed(0)} MB/s (${size} B in ${ms.toFixed(0)} ms CPU); open ${openMbps.toFixed(0)} MB/s (${sealed.length} B in ${opened.ms.toFixed(0)} ms CPU)`,
    );
    expect(mbps).toBeGreaterThanOrEqual(100);
    expect(openMbps).toBeGreaterThanOrEqual(100);
  }, 300_000);

  it("hostile inputs of 256 MiB stay within 64 MiB above baseline (peak RSS, child process)", async () => {
    const script = fileURLToPath(new URL("./bounds-memory-child.mjs", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, String(256 * MiB)], {
      timeout: 240_000,
    });
    const r = JSON.parse(stdout) as { baselineKiB: number; peakKiB: number; outcomes: Record<string, string> };
    console.log(
      `baseline ${(r.baselineKiB / 1024).toFixed(1)} MiB, peak ${(r.peakKiB / 1024).toFixed(1)} MiB`,
      r.outcomes,
    );
    for (const [what, outcome] of Object.entries(r.outcomes)) {
      expect(outcome, what).toMatch(/^(ok|MALFORMED|TRUNCATED|NOT_A_RECIPIENT|UNSUPPORTED_ALGORITHM)$/);
    }
    expect(r.peakKiB - r.baselineKiB).toBeLessThanOrEqual(64 * 1024);
  }, 300_000);
});

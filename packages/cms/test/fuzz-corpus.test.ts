import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SealpostError } from "@sealpost/protocol";
import { afterAll, expect, it } from "vitest";
import { inspect, openStream, verifyFile } from "../src/index.js";
import { person, tempDir, testTrust, vectorsDir } from "./helpers.js";

/**
 * OpenSSL's CMS fuzzing corpus (../shared/vectors/fuzz-corpora/openssl-cms): every file through inspect, openStream
 * (with a key) and verifyFile must give a result or a typed SealpostError, never another exception, within a bound.
 */
const dir = join(vectorsDir, "fuzz-corpora/openssl-cms");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const wang = person("tax-wang");

async function typed(what: string, p: Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within 5 s`)), 5000);
  });
  try {
    await Promise.race([p, timeout]);
    return "ok";
  } catch (e) {
    if (e instanceof SealpostError) return e.code;
    throw new Error(`${what}: untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
  } finally {
    clearTimeout(timer);
  }
}

it("every corpus file gives a result or a typed error", async () => {
  const files = readdirSync(dir);
  expect(files.length).toBeGreaterThan(1000);
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  const path = join(tmp.dir, "f.der");
  for (const f of files) {
    const buf = readFileSync(join(dir, f));
    writeFileSync(path, buf);
    for (const [op, run] of [
      ["inspect", () => inspect(Readable.from([buf]))],
      [
        "open",
        () =>
          openStream(Readable.from([buf]), async () => {}, {
            keys: [wang.encrypt],
            trust: testTrust(),
            allowUnsigned: true,
          }),
      ],
      ["verify", () => verifyFile(path, { trust: testTrust() })],
    ] as const) {
      try {
        const c = await typed(`${op} ${f}`, run());
        outcomes.set(`${op}:${c}`, (outcomes.get(`${op}:${c}`) ?? 0) + 1);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  }
  console.log(Object.fromEntries([...outcomes].sort()));
  expect(failures).toEqual([]);
  // 45 read; most of the others the corpus's OpenSSL baseline "parses" carry mutated version numbers, which
  // RFC 5652 does not allow and sealpost refuses (OpenSSL does not check them).
  expect(outcomes.get("inspect:ok")).toBeGreaterThan(40);
});

// Checks scripts/make-batch.mjs (synthetic welfare-applicant batches) and the committed fixtures/batches/sample-100.csv:
// shape, valid national-ID check digits, UTF-8 Chinese names, whole lines and households, determinism by seed.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { batchChunks, COLUMNS, parseSize } from "../scripts/make-batch.mjs";
import { isValidNationalId, nationalIdCheckDigit } from "../scripts/lib/national-id.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const script = path.join(repoRoot, "scripts/make-batch.mjs");
const work = mkdtempSync(path.join(tmpdir(), "sealpost-batch-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function makeBatch(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { encoding: "buffer", maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Decodes strictly as UTF-8 (throws on a bad sequence), splits into lines; the last line must be complete. */
function parseCsv(bytes: Uint8Array): string[][] {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  expect(text.endsWith("\n")).toBe(true);
  expect(text.charCodeAt(0)).not.toBe(0xfeff);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => l.split(","));
}

/** Checks every data row: field count, ID checksum and sex digit, Chinese name, households complete. */
function checkRows(rows: string[][]): void {
  const [header, ...data] = rows;
  expect(header).toEqual(COLUMNS);
  const col = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<string, number>;
  const households = new Map<string, { size: number; seen: number }>();
  let bad = 0;
  data.forEach((r, i) => {
    const f = (name: string) => r[col[name]!]!;
    if (r.length !== COLUMNS.length) bad++;
    else if (f("seq") !== String(i + 1)) bad++;
    else if (!isValidNationalId(f("national_id"))) bad++;
    else if ((f("national_id")[1] === "1" ? "男" : "女") !== f("sex")) bad++;
    else if (!/^[\u4e00-\u9fff]{2,3}$/.test(f("name"))) bad++;
    else if (!/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d)$/.test(f("birth_date"))) bad++;
    else if (!/^高雄市.+區.+號/.test(f("address")) || !f("address").includes(f("district"))) bad++;
    const h = households.get(f("household_id")) ?? { size: Number(f("household_size")), seen: 0 };
    h.seen++;
    households.set(f("household_id"), h);
  });
  expect(bad).toBe(0);
  for (const [id, h] of households) expect(h.seen, id).toBe(h.size);
}

describe("national ID check digit", () => {
  it.each([
    { id: "A123456789", valid: true },
    { id: "E100000009", valid: false },
    { id: "a123456789", valid: false },
    { id: "A323456789", valid: false },
    { id: "A12345678", valid: false },
  ])("$id valid=$valid", ({ id, valid }) => {
    expect(isValidNationalId(id)).toBe(valid);
  });

  it("changing the check digit, or any digit by one, makes a valid ID invalid", () => {
    const id = "A123456789";
    for (let d = 0; d <= 8; d++) expect(isValidNationalId(id.slice(0, 9) + d)).toBe(false);
    for (let pos = 2; pos < 10; pos++) {
      for (const delta of [1, 9]) {
        const changed = id.slice(0, pos) + ((Number(id[pos]) + delta) % 10) + id.slice(pos + 1);
        expect(isValidNationalId(changed), changed).toBe(false);
      }
    }
    expect(nationalIdCheckDigit("A12345678")).toBe(9);
    expect(() => nationalIdCheckDigit("A3")).toThrow(RangeError);
  });
});

describe("fixtures/batches/sample-100.csv", () => {
  const sample = readFileSync(path.join(repoRoot, "fixtures/batches/sample-100.csv"));

  it("has a header and 100 well-formed rows with valid IDs and Chinese names in UTF-8", () => {
    const rows = parseCsv(sample);
    expect(rows.length).toBe(101);
    checkRows(rows);
  });

  it("is exactly what the generator writes for --rows 100 --seed sample-100", async () => {
    const r = await makeBatch(["--rows", "100", "--seed", "sample-100"]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(sample));
  });
});

describe("make-batch.mjs", () => {
  it("--bytes 5M writes at least 5 MiB of complete lines and whole households to -o", async () => {
    const out = path.join(work, "5m.csv");
    const r = await makeBatch(["--bytes", "5M", "--seed", "t1", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const size = statSync(out).size;
    expect(size).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(size).toBeLessThan(5 * 1024 * 1024 + 4096);
    checkRows(parseCsv(readFileSync(out)));
  });

  it("is deterministic for a seed and differs between seeds", async () => {
    const a = await makeBatch(["--rows", "2000", "--seed", "same"]);
    const b = await makeBatch(["--rows", "2000", "--seed", "same"]);
    const c = await makeBatch(["--rows", "2000", "--seed", "other"]);
    expect(sha256(a.stdout)).toBe(sha256(b.stdout));
    expect(sha256(a.stdout)).not.toBe(sha256(c.stdout));
    expect(parseCsv(a.stdout).length).toBe(2001);
  });

  it("--rows gives exactly that many rows, cutting the last household short", () => {
    for (const rows of [0, 1, 7, 250]) {
      const bytes = Buffer.concat([...batchChunks({ rows, seed: "r" })]);
      const parsed = parseCsv(bytes);
      expect(parsed.length).toBe(rows + 1);
      checkRows(parsed);
    }
  });

  it("streams in chunks of at most 4 MiB", () => {
    let total = 0;
    let chunks = 0;
    for (const chunk of batchChunks({ bytes: 9 * 1024 * 1024, seed: "s" })) {
      expect(chunk.length).toBeLessThanOrEqual(4 * 1024 * 1024);
      total += chunk.length;
      chunks++;
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(total).toBeGreaterThanOrEqual(9 * 1024 * 1024);
  });

  it("parses sizes and refuses bad arguments with exit code 2", async () => {
    expect(parseSize("1G")).toBe(1024 ** 3);
    expect(parseSize("256M")).toBe(256 * 1024 ** 2);
    expect(parseSize("100k")).toBe(102400);
    expect(parseSize("12345")).toBe(12345);
    expect(() => parseSize("5x")).toThrow(RangeError);
    for (const args of [
      [],
      ["--rows", "3", "--bytes", "1M"],
      ["--rows", "-1"],
      ["--bytes", "lots"],
      ["--frobnicate"],
    ]) {
      const r = await makeBatch(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^make-batch: error: /);
      expect(r.stdout.length).toBe(0);
    }
  });
});

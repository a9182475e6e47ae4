import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { placeOpened } from "../src/remote/place.js";
import { safeFileName } from "../src/remote/runtime.js";

/**
 * `sealpost receive` / `result` name the opened file after the manifest's fileName: a name chosen by whoever sealed
 * the file. It must never leave the output folder, create a hidden file, replace an existing file or link, or
 * leave a second copy of the content; a file already there with the same content is the one received before.
 */

let root: string;
let out: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "sealpost-name-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh output folder inside `root` holding the provisional opened file; returns its path. */
function freshOpened(): string {
  out = join(root, `out-${++n}`, "inbox");
  mkdirSync(out, { recursive: true });
  const opened = join(out, ".C20261130-0000abcd.payload.opened");
  writeFileSync(opened, CONTENT);
  return opened;
}

const CONTENT = "id,name\n1,王小明\n";
const SHA = createHash("sha256").update(CONTENT).digest("hex");
const FALLBACK = "C20261130-0000abcd.payload";
const place = (opened: string, fileName: string, warn?: (t: string) => void) =>
  placeOpened({ dir: out, opened, fileName, fallback: FALLBACK, contentSha256: SHA, ...(warn ? { warn } : {}) });

describe("placeOpened", () => {
  test.each([
    ["../../escape.csv", "escape.csv"],
    ["reports/2026/batch.csv", "batch.csv"],
    ["C:\\Users\\chen\\batch.csv", "batch.csv"],
    ["申報資料.csv", "申報資料.csv"],
    ["a\u0000b.csv", "a_b.csv"],
    ["evil\u001b[2J.csv", "evil_[2J.csv"],
    ["line\nbreak.csv", "line_break.csv"],
    ["report\u202Evsc.exe", "report_vsc.exe"],
  ])("%j becomes %j inside the output folder", async (given, want) => {
    const opened = freshOpened();
    const final = (await place(opened, given)).path;
    expect(final).toBe(join(out, want));
    expect(readFileSync(final, "utf8")).toContain("王小明");
    expect(existsSync(opened)).toBe(false);
    expect(readdirSync(join(out, ".."))).toEqual(["inbox"]);
  });

  test.each(["..", ".", "sub/..", ".bashrc", "home/.profile", "x".repeat(256), "名".repeat(86)])(
    "%j is refused: the case-named fallback is used and nothing else is created",
    async (given) => {
      const opened = freshOpened();
      const warnings: string[] = [];
      const final = (await place(opened, given, (t) => warnings.push(t))).path;
      expect(final).toBe(join(out, FALLBACK));
      expect(readdirSync(out)).toEqual([FALLBACK]);
      expect(readdirSync(join(out, ".."))).toEqual(["inbox"]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).not.toMatch(/[\u0000\u001b\n]/);
    },
  );

  test("an existing file or (dangling) link of that name is never replaced", async () => {
    let opened = freshOpened();
    writeFileSync(join(out, "batch.csv"), "keep me");
    expect(await place(opened, "batch.csv")).toEqual({ path: join(out, FALLBACK), alreadyThere: false });
    expect(readFileSync(join(out, "batch.csv"), "utf8")).toBe("keep me");
    opened = join(out, ".again.opened");
    writeFileSync(opened, CONTENT);
    symlinkSync(join(root, "outside-target.csv"), join(out, "link.csv"));
    // The fallback already holds this content: that is the file received before.
    expect(await place(opened, "link.csv")).toEqual({ path: join(out, FALLBACK), alreadyThere: true });
    expect(lstatSync(join(out, "link.csv")).isSymbolicLink()).toBe(true);
    expect(existsSync(join(root, "outside-target.csv"))).toBe(false);
    expect(existsSync(opened)).toBe(false);
  });

  test("the same content already under the sender's name: nothing new is written", async () => {
    const opened = freshOpened();
    writeFileSync(join(out, "batch.csv"), CONTENT);
    expect(await place(opened, "batch.csv")).toEqual({ path: join(out, "batch.csv"), alreadyThere: true });
    expect(readdirSync(out)).toEqual(["batch.csv"]);
  });

  test("every name taken by other content: OUTPUT_EXISTS, and the opened copy is removed", async () => {
    const opened = freshOpened();
    writeFileSync(join(out, "batch.csv"), "other");
    writeFileSync(join(out, FALLBACK), "other too");
    await expect(place(opened, "batch.csv")).rejects.toMatchObject({ code: "OUTPUT_EXISTS" });
    expect(readdirSync(out).sort()).toEqual([FALLBACK, "batch.csv"].sort());
  });

  test("safeFileName keeps ordinary names and refuses the rest", () => {
    expect(safeFileName("batch-2026.csv")).toBe("batch-2026.csv");
    expect(safeFileName(undefined)).toBeUndefined();
    expect(safeFileName("dir/")).toBeUndefined();
    expect(safeFileName("x".repeat(255))).toBe("x".repeat(255));
  });

  test("a name with replaced characters is used with a warning", async () => {
    const warnings: string[] = [];
    const final = (await place(freshOpened(), "report\u202Evsc.exe", (t) => warnings.push(t))).path;
    expect(final).toBe(join(out, "report_vsc.exe"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not shown as themselves; using report_vsc\.exe/);
  });

  test("safeFileName replaces controls, bidirectional and other format characters with _", () => {
    expect(safeFileName("report\u202Evsc.exe")).toBe("report_vsc.exe");
    for (const c of [
      "\u202A",
      "\u202B",
      "\u202C",
      "\u202D",
      "\u2066",
      "\u2067",
      "\u2068",
      "\u2069",
      "\u200E",
      "\u200F",
    ]) {
      expect(safeFileName(`a${c}b.csv`)).toBe("a_b.csv");
    }
    expect(safeFileName("a\u2028b\u2029c.csv")).toBe("a_b_c.csv");
    expect(safeFileName("zero\u200Bwidth\uFEFF\u061C.csv")).toBe("zero_width__.csv");
    expect(safeFileName("nul\u0000esc\u001b[31mdel\u007fc1\u009b.csv")).toBe("nul_esc_[31mdel_c1_.csv");
    expect(safeFileName("lone\uD800.csv")).toBe("lone_.csv");
    expect(safeFileName("稅務資料 2026.csv")).toBe("稅務資料 2026.csv");
  });
});

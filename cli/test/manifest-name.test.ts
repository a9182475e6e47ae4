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
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nameFromManifest, safeFileName } from "../src/remote/runtime.js";

/**
 * `sealpost receive` / `result` name the opened file after the manifest's fileName: a name chosen by whoever sealed
 * the file. It must never leave the output folder, create a hidden file, replace an existing file or link, or
 * fail the command after the content was opened.
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
  const opened = join(out, "C20261130-0000abcd.payload");
  writeFileSync(opened, "id,name\n1,王小明\n");
  return opened;
}

describe("nameFromManifest", () => {
  test.each([
    ["../../escape.csv", "escape.csv"],
    ["reports/2026/batch.csv", "batch.csv"],
    ["C:\\Users\\chen\\batch.csv", "batch.csv"],
    ["申報資料.csv", "申報資料.csv"],
  ])("%j becomes %j inside the output folder", async (given, want) => {
    const opened = freshOpened();
    const final = await nameFromManifest(out, opened, given);
    expect(final).toBe(join(out, want));
    expect(readFileSync(final, "utf8")).toContain("王小明");
    expect(existsSync(opened)).toBe(false);
    expect(readdirSync(join(out, ".."))).toEqual(["inbox"]);
  });

  test.each([
    "..",
    ".",
    "sub/..",
    ".bashrc",
    "home/.profile",
    "a\u0000b.csv",
    "evil\u001b[2J.csv",
    "line\nbreak.csv",
    "x".repeat(256),
    "名".repeat(86),
  ])("%j is refused: the provisional name is kept and nothing else is created", async (given) => {
    const opened = freshOpened();
    const warnings: string[] = [];
    const final = await nameFromManifest(out, opened, given, (t) => warnings.push(t));
    expect(final).toBe(opened);
    expect(readdirSync(out)).toEqual(["C20261130-0000abcd.payload"]);
    expect(readdirSync(join(out, ".."))).toEqual(["inbox"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toMatch(/[\u0000\u001b\n]/);
  });

  test("an existing file or (dangling) link of that name is never replaced", async () => {
    const opened = freshOpened();
    writeFileSync(join(out, "batch.csv"), "keep me");
    expect(await nameFromManifest(out, opened, "batch.csv")).toBe(opened);
    expect(readFileSync(join(out, "batch.csv"), "utf8")).toBe("keep me");
    symlinkSync(join(root, "outside-target.csv"), join(out, "link.csv"));
    expect(await nameFromManifest(out, opened, "link.csv")).toBe(opened);
    expect(lstatSync(join(out, "link.csv")).isSymbolicLink()).toBe(true);
    expect(existsSync(join(root, "outside-target.csv"))).toBe(false);
    expect(existsSync(opened)).toBe(true);
  });

  test("safeFileName keeps ordinary names and refuses the rest", () => {
    expect(safeFileName("batch-2026.csv")).toBe("batch-2026.csv");
    expect(safeFileName(undefined)).toBeUndefined();
    expect(safeFileName("dir/")).toBeUndefined();
    expect(safeFileName("x".repeat(255))).toBe("x".repeat(255));
  });
});

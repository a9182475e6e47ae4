import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

it("seal + open of a 256 MiB stream stays under 128 MiB peak RSS (built package, child process)", async () => {
  const script = fileURLToPath(new URL("./memory-child.mjs", import.meta.url));
  const size = 256 * 1024 * 1024;
  const { stdout } = await promisify(execFile)(process.execPath, [script, tmp.dir, String(size)], {
    timeout: 300_000,
  });
  const r = JSON.parse(stdout);
  console.log(
    `256 MiB seal+open: peak RSS ${(r.maxRssKiB / 1024).toFixed(1)} MiB (after seal ${(r.maxRssAfterSealKiB / 1024).toFixed(1)} MiB)`,
  );
  expect(r.contentBytes).toBe(size);
  expect(r.outBytes).toBe(size);
  expect(r.hashOk).toBe(true);
  expect(r.sealedBytes).toBeGreaterThan(size);
  expect(r.maxRssKiB).toBeLessThan(128 * 1024); // the bound of issue 3 for the CLI
}, 300_000);

// Inputs the fuzzing campaigns found (scripts/fuzz, `npm run fuzz -- TARGET --seconds N`) that made a parser fail:
// a crash (an error that is not the target's typed error), a hang, or memory above the 64 MiB bound. Each is kept
// under fixtures/fuzz/TARGET/ and must now give a result or a typed error, quickly, through the same target.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, TARGETS } from "../scripts/fuzz/targets.mjs";

const dir = join(REPO, "fixtures/fuzz");
const targets = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());

describe("fuzz regressions", () => {
  it("every target folder names a fuzz target", () => {
    for (const t of targets) expect(Object.keys(TARGETS)).toContain(t.name);
  });
  for (const t of targets) {
    const files = readdirSync(join(dir, t.name)).filter((f) => f.endsWith(".bin"));
    it.each(files)(`${t.name}: %s gives a result or a typed error within 5 s`, async (f) => {
      const input = readFileSync(join(dir, t.name, f));
      const c0 = process.cpuUsage();
      await TARGETS[t.name as keyof typeof TARGETS].run(input);
      const c = process.cpuUsage(c0);
      expect((c.user + c.system) / 1000).toBeLessThan(5000);
    });
  }
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, sealpost } from "./helpers.js";

// A keystore asking for more key derivation than sealpost allows is refused with KDF_LIMIT, exit 13 (the fuzzing
// regression files of fixtures/fuzz/keystore/, soc-chen's keystore with its KDF parameters raised).
const fuzz = join(repoRoot, "fixtures/fuzz/keystore");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-kdf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keystore KDF limits through the CLI", () => {
  it.each([
    ["pbmac1-7.8m-iterations-256-byte-key-45b83d3c4547.bin", /7812500 key-derivation iterations/],
    ["kdf-total-over-budget-81713ebba78d.bin", /together need 11000000 units/],
  ])("%s: exit 13 KDF_LIMIT with a hint", async (file, msg) => {
    const r = await sealpost(["cert", "show", join(fuzz, file)], {
      cwd: dir,
      env: { SEALPOST_PIN: "soc-chen-PIN-1234" },
    });
    expect(r.code, r.stderr).toBe(13);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toMatch(/\[KDF_LIMIT\]/);
    expect(r.stderr).toMatch(/^sealpost: hint: Export the keystore again with at most 2,000,000 iterations/m);
  });
});

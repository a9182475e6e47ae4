import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { loadPki, sealpost } from "./helpers.js";

/**
 * Mistakes that are the user's, not the file's or the key's: an empty --pin-file and a detached signature verified
 * without --content are usage errors (exit 2) with a hint, not "wrong PIN" (5) or "damaged" (6). The real binary.
 */
const pki = loadPki();
const chen = pki.people["soc-chen"]!;
const work = mkdtempSync(join(tmpdir(), "sealpost-usage-mistakes-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const trust = [
  "--trust",
  pki.root.cert,
  "--intermediate",
  pki.intermediate.cert,
  "--crl",
  pki.intermediate.crl,
  "--crl",
  pki.root.crl,
];

test("an empty --pin-file is a usage error, not a wrong PIN", async () => {
  writeFileSync(join(work, "report.txt"), "report\n");
  writeFileSync(join(work, "empty.pin"), "", { mode: 0o600 });
  writeFileSync(join(work, "blank.pin"), "\nsecond line\n", { mode: 0o600 });
  for (const pinFile of ["empty.pin", "blank.pin"]) {
    const r = await sealpost(["sign", "report.txt", "--key", chen.p12, "--pin-file", pinFile, ...trust, "--detached"], {
      cwd: work,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`The PIN file ${pinFile} is empty`);
    expect(r.stderr).toContain("[USAGE]");
    expect(r.stderr).toMatch(/hint: Write the PIN on the first line/);
  }
});

test("verify of a detached signature without --content is a usage error naming --content", async () => {
  const signed = await sealpost(["sign", "report.txt", "--key", chen.p12, ...trust, "--detached", "-q"], {
    cwd: work,
    env: { SEALPOST_PIN: chen.pin },
  });
  expect(signed.code, signed.stderr).toBe(0);
  const r = await sealpost(["verify", "report.txt.p7s", ...trust], { cwd: work });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain("report.txt.p7s is a detached signature");
  expect(r.stderr).toContain(
    "hint: Give the signed file with --content FILE, e.g. sealpost verify report.txt.p7s --content report.txt",
  );
  const ok = await sealpost(["verify", "report.txt.p7s", "--content", "report.txt", ...trust, "-q"], { cwd: work });
  expect(ok.code, ok.stderr).toBe(0);
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, sealpost } from "./helpers.js";

// `cert check` on the PKITS vectors (read in place from the shared vectors; SEALPOST_VECTORS names them from a
// worktree elsewhere): a CA whose basicConstraints is not marked critical is accepted with a warning (PKITS 4.6.4
// expects valid), while a CA whose not-critical basicConstraints says cA false stays refused (4.6.3).
const pkits = join(process.env.SEALPOST_VECTORS ?? resolve(repoRoot, "../shared/vectors"), "pkits");
const cert = (n: string) => join(pkits, "certs", n);
const crl = (n: string) => join(pkits, "crls", n);
const anchorArgs = ["--trust", cert("TrustAnchorRootCertificate.crt"), "--crl", crl("TrustAnchorRootCRL.crl")];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-cert-check-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cert check: basicConstraints not critical in a CA certificate", () => {
  const args = [
    ...["cert", "check", cert("ValidbasicConstraintsNotCriticalTest4EE.crt"), ...anchorArgs],
    ...["--intermediate", cert("basicConstraintsNotCriticalCACert.crt")],
    ...["--crl", crl("basicConstraintsNotCriticalCACRL.crl")],
  ];

  it("PKITS 4.6.4: valid, exit 0, with a warning naming the CA", async () => {
    const r = await sealpost(args, { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(/^OK: .*is trusted/);
    expect(r.stderr).toMatch(
      /^sealpost: warning: basicConstraints Not Critical CA.*does not mark basicConstraints critical.*accepted\.$/m,
    );
  });

  it("PKITS 4.6.4 --json: valid: true and the warning in warnings", async () => {
    const r = await sealpost([...args, "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const j = r.json() as { valid: boolean; warnings: string[] };
    expect(j.valid).toBe(true);
    expect(j.warnings.some((w) => /basicConstraints critical/.test(w))).toBe(true);
  });

  it("PKITS 4.6.3: a not-critical basicConstraints with cA false is still refused", async () => {
    const r = await sealpost(
      [
        ...["cert", "check", cert("InvalidcAFalseTest3EE.crt"), ...anchorArgs],
        ...["--intermediate", cert("basicConstraintsNotCriticalcAFalseCACert.crt")],
        ...["--crl", crl("basicConstraintsNotCriticalcAFalseCACRL.crl")],
      ],
      { cwd: dir },
    );
    // The strict profile refuses that CA before path validation would: keyCertSign without cA (exit 6, MALFORMED).
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/keyCertSign asserted without cA in basicConstraints.*\[MALFORMED\]/);
  });
});

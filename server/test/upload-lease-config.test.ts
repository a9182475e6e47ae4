import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { httpTimeoutsOf, loadConfig, uploadLeaseTimes, uploadLimitsOf, uploadProgressOf } from "../src/config.js";

/** The upload lease's times come from config.json (uploadLease.ttlMs, renewMs) with defaults; bad values stop the start. */

test("defaults are 2 minutes and 30 s; configured values are taken", () => {
  expect(uploadLeaseTimes({})).toEqual({ ttlMs: 120_000, renewMs: 30_000 });
  expect(uploadLeaseTimes({ uploadLease: { ttlMs: 3000, renewMs: 1000 } })).toEqual({ ttlMs: 3000, renewMs: 1000 });
  expect(uploadLeaseTimes({ uploadLease: { ttlMs: 60_000 } })).toEqual({ ttlMs: 60_000, renewMs: 30_000 });
});

test("a renewal not below the lease time, or times that are not positive whole milliseconds, are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-lease-cfg-"));
  try {
    for (const uploadLease of [{ ttlMs: 1000, renewMs: 1000 }, { ttlMs: 20_000 }, { renewMs: 0 }, { ttlMs: 1.5 }]) {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ uploadLease }));
      expect(() => loadConfig(dir), JSON.stringify(uploadLease)).toThrow(
        /uploadLease needs positive whole milliseconds/,
      );
    }
    writeFileSync(join(dir, "config.json"), JSON.stringify({ uploadLease: { ttlMs: 5000, renewMs: 1000 } }));
    expect(loadConfig(dir).uploadLease).toEqual({ ttlMs: 5000, renewMs: 1000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("upload progress floor and HTTP deadlines: defaults, configured values, bad values stop the start", () => {
  expect(uploadProgressOf({})).toEqual({ minBytes: 65_536, intervalMs: 30_000 });
  expect(httpTimeoutsOf({})).toEqual({ headersMs: 30_000, bodyMs: 60_000 });
  expect(uploadLimitsOf({})).toEqual({ perStaff: 2, total: 16 });
  expect(uploadProgressOf({ uploadProgress: { minBytes: 10 } })).toEqual({ minBytes: 10, intervalMs: 30_000 });
  const dir = mkdtempSync(join(tmpdir(), "sealpost-deadline-cfg-"));
  try {
    for (const cfg of [{ uploadProgress: { minBytes: 0 } }, { uploadProgress: { intervalMs: 1.5 } }]) {
      writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
      expect(() => loadConfig(dir), JSON.stringify(cfg)).toThrow(/uploadProgress needs/);
    }
    writeFileSync(join(dir, "config.json"), JSON.stringify({ uploadLimits: { perStaff: 0 } }));
    expect(() => loadConfig(dir)).toThrow(/uploadLimits needs/);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ httpTimeouts: { headersMs: -1 } }));
    expect(() => loadConfig(dir)).toThrow(/httpTimeouts needs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

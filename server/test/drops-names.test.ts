import { describe, expect, test } from "vitest";
import { isPlainRemoteName, pullOnce } from "../src/drops/pull.js";
import type { RunContext } from "../src/drops/run-context.js";
import type { RemoteEntry } from "../src/drops/sftp.js";
import { silentLogger } from "../src/log.js";

/**
 * Remote names come from the agency's SFTP server. A hostile or broken server can list names that are paths
 * ("../x.p7m", "sub/x.p7m") or carry control characters: the pull must not touch them. The session here stands in
 * for such a server (real OpenSSH never lists a name with "/"): it answers the listing and fails the test on any
 * other call, so "ignored" means not downloaded, not renamed, no folder made.
 */

function hostileRun(names: string[]): { ctx: RunContext; calls: string[] } {
  const calls: string[] = [];
  const entries: RemoteEntry[] = names.map((name) => ({ name, size: 10, type: "file" }));
  const session = new Proxy(
    {},
    {
      get(_t, prop) {
        if (prop === "listSome") return async () => ({ entries, truncated: false });
        if (prop === "then") return undefined;
        return async (...args: unknown[]) => {
          calls.push(`${String(prop)} ${JSON.stringify(args)}`);
          throw new Error(`unexpected SFTP call ${String(prop)}`);
        };
      },
    },
  );
  const ctx = {
    drop: { name: "khh-soc-out", agency: "KHH-SOC", remoteDir: "/outbox", completion: "sidecar", host: "sftp.test" },
    runId: 1,
    session,
    drops: async () => {
      calls.push("drops repository");
      return undefined;
    },
    progress: { files: 0, bytes: 0, errors: [] },
    emit: () => {},
    log: silentLogger,
    maxFileBytes: 1 << 20,
    maxListEntries: 10_000,
    now: () => new Date(),
  } as unknown as RunContext;
  return { ctx, calls };
}

describe("pull: remote names", () => {
  test.each([
    ["../escape.p7m"],
    ["sub/inner.p7m"],
    ["..\\escape.p7m"],
    ["nul\u0000.p7m"],
    ["esc\u001b[2J.p7m"],
    [".hidden.p7m"],
    [`${"x".repeat(252)}.p7m`],
  ])("%j (with its sidecar and marker) is ignored: nothing downloaded, renamed or created", async (name) => {
    const { ctx, calls } = hostileRun([name, `${name}.json`, `${name}.done`]);
    await pullOnce(ctx);
    expect(calls).toEqual([]);
    expect(ctx.progress.errors).toEqual([]);
  });

  test("plain names pass", () => {
    for (const n of ["batch-2026.p7m", "批次.p7m", "a.p7m.json", "x".repeat(255)])
      expect(isPlainRemoteName(n)).toBe(true);
    for (const n of ["", ".", "..", "a/b", "a\\b", "a\u0000", "a\u007f", "x".repeat(256)]) {
      expect(isPlainRemoteName(n)).toBe(false);
    }
  });
});

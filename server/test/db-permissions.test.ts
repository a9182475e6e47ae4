import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { databasePath } from "../src/db/open.js";
import { initFixtureDataDir, startTestServer } from "./helpers.js";

// The database holds the registry, the cases and the audit trail: only the server's own user may read it.

const base = mkdtempSync(join(tmpdir(), "sealpost-dbperm-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

const init = (dir: string) => initFixtureDataDir(dir);

describe("database file and data folder permissions", () => {
  it("init creates the database 0600 (its WAL too) and makes an existing world-readable data folder 0700", async () => {
    const old = process.umask(0o022); // the usual umask: new files 0644 unless sealpost says otherwise
    try {
      const dir = join(base, "fresh");
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      await init(dir);
      expect(mode(databasePath(dir)).toString(8)).toBe("600");
      expect(mode(dir).toString(8)).toBe("700");
      const server = await startTestServer(dir);
      try {
        for (const suffix of ["-wal", "-shm"]) expect(mode(`${databasePath(dir)}${suffix}`).toString(8)).toBe("600");
      } finally {
        await server.close();
      }
    } finally {
      process.umask(old);
    }
  });

  it("a database left readable by others (an older install) is made 0600 at start, with a warning", async () => {
    const dir = join(base, "older");
    mkdirSync(dir);
    await init(dir);
    chmodSync(databasePath(dir), 0o644);
    chmodSync(dir, 0o755);
    const warnings: string[] = [];
    const { startServer } = await import("../src/server.js");
    const server = await startServer(dir, {
      listen: "127.0.0.1:0",
      log: { info() {}, error() {}, warn: (m: string) => warnings.push(m) },
    });
    try {
      expect(mode(databasePath(dir)).toString(8)).toBe("600");
      expect(warnings.join("\n")).toMatch(/readable by other users.*0600/);
      expect(warnings.join("\n")).toMatch(/data folder .* is open to other users/);
    } finally {
      await server.close();
    }
  });
});

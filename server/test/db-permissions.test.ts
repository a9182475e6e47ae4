import { chmodSync, existsSync, statSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { databasePath } from "../src/db/open.js";
import { startServer } from "../src/server.js";
import { freshDataDir, startTestServer } from "./helpers.js";
import { TEST_DB } from "./helpers/postgres.js";

// The database holds the registry, the cases and the audit trail, the data folder the sealed files: only the
// server's own user may read them. With PostgreSQL the database's access is the operator's (server README); the
// data folder is checked the same way.

const mode = (p: string) => statSync(p).mode & 0o777;
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe(`database file and data folder permissions (${TEST_DB})`, () => {
  it("init creates the SQLite database 0600 (its WAL too) and makes an existing open data folder 0700", async () => {
    const old = process.umask(0o022); // the usual umask: new files 0644 unless sealpost says otherwise
    try {
      const { dir, cleanup } = await freshDataDir({ beforeInit: (d) => chmodSync(d, 0o755) });
      cleanups.push(cleanup);
      expect(mode(dir).toString(8)).toBe("700");
      if (TEST_DB === "postgres") {
        expect(existsSync(databasePath(dir))).toBe(false);
        return;
      }
      expect(mode(databasePath(dir)).toString(8)).toBe("600");
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

  it("at start a database readable by others is made 0600 and an open data folder is reported, with warnings", async () => {
    const { dir, cleanup } = await freshDataDir();
    cleanups.push(cleanup);
    if (TEST_DB === "sqlite") chmodSync(databasePath(dir), 0o644);
    chmodSync(dir, 0o755);
    const warnings: string[] = [];
    const server = await startServer(dir, {
      listen: "127.0.0.1:0",
      log: { info() {}, error() {}, warn: (m: string) => warnings.push(m) },
    });
    try {
      const text = warnings.join("\n");
      expect(text).toMatch(/data folder .* is open to other users/);
      if (TEST_DB === "sqlite") {
        expect(mode(databasePath(dir)).toString(8)).toBe("600");
        expect(text).toMatch(/readable by other users.*0600/);
      } else {
        expect(text).not.toMatch(/readable by other users/);
      }
    } finally {
      await server.close();
    }
  });
});

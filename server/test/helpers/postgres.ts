import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { AuditKey } from "../../src/audit/audit-key.js";
import { Db } from "../../src/db/db.js";
import { migrate, migratePostgres } from "../../src/db/migrate.js";
import { type PostgresConfig, postgresKysely, postgresPool } from "../../src/db/postgres.js";
import { openSqliteFile, sqliteKysely } from "../../src/db/sqlite.js";
import { createDatabase } from "../../../scripts/lib/pg-cluster.mjs";
import type { PgCluster } from "./postgres-cluster.js";

export type TestDialect = "sqlite" | "postgres";

/**
 * The database of this test run: the vitest project "sqlite" or "postgres" (vitest.config.ts) sets
 * SEALPOST_TEST_DB, and every server test runs in both. Default sqlite.
 */
export const TEST_DB: TestDialect = process.env.SEALPOST_TEST_DB === "postgres" ? "postgres" : "sqlite";

/** The databases a repository test of this run covers (`describe.each(DIALECTS)`): this run's database. */
export const DIALECTS: readonly TestDialect[] = [TEST_DB];

/** This run's PostgreSQL cluster (started once by the vitest globalSetup). */
export function pgCluster(): PgCluster {
  return inject("pgCluster");
}

/** A fresh database of this run's cluster, for one test file; `drop()` removes it and the password file. */
export interface TestDatabase {
  /** config.json `database` for it: a URL without password and a password file (mode 0600). */
  config: PostgresConfig;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const d = await createDatabase(pgCluster(), "sealpost_test");
  return { name: d.name, config: { url: d.url, passwordFile: d.passwordFile }, drop: d.drop };
}

/** A migrated database of either kind for repository tests. */
export interface TestDb {
  db: Db;
  /**
   * On PostgreSQL another Db over the same database with its own pool (a second relay instance); closed with this
   * one. SQLite runs one instance (one process, one writing connection): there it is the same Db.
   */
  second(): Promise<Db>;
  close(): Promise<void>;
}

/** `auditKey`: the Db signs a tree head with every audit append (default: none, as without a key file). */
export async function openTestDb(dialect: TestDialect, options: { auditKey?: AuditKey } = {}): Promise<TestDb> {
  const key = options.auditKey ? { auditKey: options.auditKey } : {};
  const extra: Db[] = [];
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-db-"));
    const file = join(dir, "sealpost.db");
    const raw = openSqliteFile(file, { mustExist: false });
    migrate(raw);
    const db = new Db({
      dialect: "sqlite",
      writer: sqliteKysely(raw),
      reader: sqliteKysely(openSqliteFile(file)),
      ...key,
    });
    return {
      db,
      async second() {
        return db;
      },
      async close() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const tdb = await createTestDatabase();
  const open = () => new Db({ dialect: "postgres", writer: postgresKysely(postgresPool(tdb.config)), ...key });
  const db = open();
  await migratePostgres(db.kysely);
  return {
    db,
    async second() {
      const d = open();
      extra.push(d);
      return d;
    },
    async close() {
      for (const d of extra) await d.close();
      await db.close();
      await tdb.drop();
    },
  };
}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, test } from "vitest";
import { ALL_MIGRATIONS } from "../src/db/all-migrations.js";
import { migrate, migratePostgres } from "../src/db/migrate.js";
import { postgresKysely, postgresPool } from "../src/db/postgres.js";
import { openSqliteFile, sqliteKysely } from "../src/db/sqlite.js";
import { createTestDatabase, TEST_DB, type TestDatabase } from "./helpers/postgres.js";

/**
 * The versioned migrations on both databases: every step applied once and recorded, the same tables, the
 * append-only audit log, e-mail uniqueness without regard to case; on PostgreSQL two instances migrating at once.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const ids = ALL_MIGRATIONS.map((m) => m.id);

async function sqliteDb() {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-mig-"));
  const raw = openSqliteFile(join(dir, "sealpost.db"), { mustExist: false });
  const applied = migrate(raw);
  const db = sqliteKysely(raw);
  cleanups.push(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, applied };
}

async function postgresDb(): Promise<{ tdb: TestDatabase; applied: string[][] }> {
  const tdb = await createTestDatabase();
  // Two instances starting at once against one empty database.
  const a = postgresKysely(postgresPool(tdb.config));
  const b = postgresKysely(postgresPool(tdb.config));
  const applied = await Promise.all([migratePostgres(a), migratePostgres(b)]);
  cleanups.push(async () => {
    await a.destroy();
    await b.destroy();
    await tdb.drop();
  });
  return { tdb, applied };
}

describe("migrations", () => {
  test.runIf(TEST_DB === "sqlite")("SQLite: every step once, in order; a second run applies nothing", async () => {
    const { db, applied } = await sqliteDb();
    expect(applied).toEqual(ids);
    const rows = await db.selectFrom("schema_migrations").select("id").orderBy("applied_at").execute();
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
  });

  test.runIf(TEST_DB === "postgres")(
    "PostgreSQL: two instances migrating at once apply every step exactly once",
    async () => {
      const { tdb, applied } = await postgresDb();
      expect([...applied[0]!, ...applied[1]!].sort()).toEqual([...ids].sort());
      const db = postgresKysely(postgresPool(tdb.config));
      try {
        const rows = await db.selectFrom("schema_migrations").select("id").execute();
        expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
        expect(await migratePostgres(db)).toEqual([]);
      } finally {
        await db.destroy();
      }
    },
  );

  test.runIf(TEST_DB === "postgres")("both: the same tables and columns", async () => {
    const { db: lite } = await sqliteDb();
    const { tdb } = await postgresDb();
    const pgdb = postgresKysely(postgresPool(tdb.config));
    try {
      const liteTables = (await lite.introspection.getTables()).map((t) => [
        t.name,
        t.columns.map((c) => c.name).sort(),
      ]);
      const pgTables = (await pgdb.introspection.getTables()).map((t) => [t.name, t.columns.map((c) => c.name).sort()]);
      const sort = (x: (string | string[])[][]) => x.sort((p, q) => String(p[0]).localeCompare(String(q[0])));
      expect(sort(pgTables)).toEqual(sort(liteTables));
    } finally {
      await pgdb.destroy();
    }
  });

  test.runIf(TEST_DB === "postgres")(
    "PostgreSQL: audit_log refuses UPDATE, DELETE and TRUNCATE; staff e-mail is unique without regard to case",
    async () => {
      const { tdb } = await postgresDb();
      const db = postgresKysely(postgresPool(tdb.config));
      try {
        await db
          .insertInto("audit_log")
          .values({
            seq: 1,
            time: "2026-01-01T00:00:00.000Z",
            actor: "system",
            role: null,
            agency: null,
            action: "test",
            case_id: null,
            file_sha256: "[]",
            source: null,
            detail: "{}",
            prev_hash: "0".repeat(64),
            hash: "1".repeat(64),
          })
          .execute();
        await expect(db.updateTable("audit_log").set({ action: "changed" }).execute()).rejects.toThrow(/append-only/);
        await expect(db.deleteFrom("audit_log").execute()).rejects.toThrow(/append-only/);
        await expect(sql`TRUNCATE audit_log`.execute(db)).rejects.toThrow(/append-only/);
        await db
          .insertInto("agencies")
          .values({ code: "A", name: "A", email: "a@x.example", created_at: "t" })
          .execute();
        await db
          .insertInto("staff")
          .values({ id: "1", agency: "A", name: "n", email: "Chen@Soc.example", role: "staff", created_at: "t" })
          .execute();
        await expect(
          db
            .insertInto("staff")
            .values({ id: "2", agency: "A", name: "n", email: "chen@soc.EXAMPLE", role: "staff", created_at: "t" })
            .execute(),
        ).rejects.toMatchObject({ code: "23505" });
        const n = await db
          .selectFrom("audit_log")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow();
        expect(n.n).toBe(1);
      } finally {
        await db.destroy();
      }
    },
  );
});

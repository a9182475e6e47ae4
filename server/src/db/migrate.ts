import type BetterSqlite3 from "better-sqlite3";
import { type Kysely, sql } from "kysely";
import type { Clock } from "../clock.js";
import { ALL_MIGRATIONS } from "./all-migrations.js";
import type { Migration } from "./migration.js";
import type { Database } from "./schema.js";

/**
 * Applies to a SQLite database, in order, every migration not yet recorded in `schema_migrations`, each in its own
 * transaction (BEGIN IMMEDIATE: another process migrating the same file waits). Returns the ids applied now.
 * Default list: ALL_MIGRATIONS.
 */
export function migrate(
  db: BetterSqlite3.Database,
  migrations: Migration[] = ALL_MIGRATIONS,
  clock: Clock = { now: () => new Date() },
): string[] {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const applied: string[] = [];
  const done = db.prepare("SELECT 1 FROM schema_migrations WHERE id = ?");
  const record = db.prepare("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)");
  for (const m of migrations) {
    const step = db.transaction(() => {
      if (done.get(m.id)) return false;
      db.exec(m.sqlite);
      record.run(m.id, clock.now().toISOString());
      return true;
    });
    if (step.immediate()) applied.push(m.id);
  }
  return applied;
}

/** Key of the advisory lock that serialises migration runs of several relay instances on one PostgreSQL database. */
const MIGRATION_LOCK = 7_316_000_001;

/**
 * Applies to a PostgreSQL database, in order, every migration not yet recorded in `schema_migrations`, each in its
 * own transaction that first takes a transaction-level advisory lock: instances starting at the same time apply
 * each step once (the others wait, then see it recorded). Returns the ids applied now.
 */
export async function migratePostgres(
  db: Kysely<Database>,
  migrations: Migration[] = ALL_MIGRATIONS,
  clock: Clock = { now: () => new Date() },
): Promise<string[]> {
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`.execute(
      trx,
    );
  });
  const applied: string[] = [];
  for (const m of migrations) {
    const ran = await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
      const done = await trx.selectFrom("schema_migrations").select("id").where("id", "=", m.id).executeTakeFirst();
      if (done) return false;
      await sql.raw(m.postgres).execute(trx);
      await trx.insertInto("schema_migrations").values({ id: m.id, applied_at: clock.now().toISOString() }).execute();
      return true;
    });
    if (ran) applied.push(m.id);
  }
  return applied;
}

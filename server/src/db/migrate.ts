import type Database from "better-sqlite3";
import { ALL_MIGRATIONS } from "./all-migrations.js";
import type { Migration } from "./migration.js";

/**
 * Applies, in order, every migration not yet recorded in `schema_migrations`, each in its own transaction.
 * Returns the ids applied now. Default list: ALL_MIGRATIONS (core, then mail, then drops).
 */
export function migrate(db: Database.Database, migrations: Migration[] = ALL_MIGRATIONS): string[] {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const done = new Set((db.prepare("SELECT id FROM schema_migrations").all() as { id: string }[]).map((r) => r.id));
  const applied: string[] = [];
  const record = db.prepare("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)");
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    db.transaction(() => {
      m.up(db);
      record.run(m.id, new Date().toISOString());
    })();
    applied.push(m.id);
  }
  return applied;
}

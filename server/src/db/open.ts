import { join } from "node:path";
import { loadAuditKey } from "../audit/audit-key.js";
import { type Clock, systemClock } from "../clock.js";
import { ALL_MIGRATIONS } from "./all-migrations.js";
import { Db } from "./db.js";
import { migrate, migratePostgres } from "./migrate.js";
import { type PostgresConfig, postgresKysely, postgresPool } from "./postgres.js";
import { createPrivateFile } from "./private-files.js";
import { openSqliteFile, sqliteKysely } from "./sqlite.js";

/** The SQLite database file inside a data folder (the default database). */
export function databasePath(dataDir: string): string {
  return join(dataDir, "sealpost.db");
}

/** Options of openDb. */
export interface OpenDbOptions {
  /** SQLite: refuse to create a new database file (use `init` for that). Default true. A new file is made 0600. */
  mustExist?: boolean;
  /** Apply pending migrations. Default true. */
  migrate?: boolean;
  /** Default: the system clock. */
  clock?: Clock;
}

/**
 * Opens a data folder's database: PostgreSQL when `database` is configured (config.json `database`, see
 * PostgresConfig), otherwise SQLite at `<data>/sealpost.db` (WAL, foreign keys, busy_timeout 5000; writes through one
 * connection, reads through a second, query-only one). Applies pending migrations unless `migrate: false`. The
 * folder's audit key (audit-key.pem), when there is one, signs a tree head with every audit append.
 */
export async function openDb(
  dataDir: string,
  database: PostgresConfig | undefined,
  options: OpenDbOptions = {},
): Promise<Db> {
  const clock = options.clock ?? systemClock;
  const auditKey = loadAuditKey(dataDir);
  if (database) {
    const writer = postgresKysely(postgresPool(database));
    try {
      if (options.migrate ?? true) await migratePostgres(writer, ALL_MIGRATIONS, clock);
    } catch (e) {
      await writer.destroy();
      throw e;
    }
    return new Db({ dialect: "postgres", writer, clock, ...(auditKey ? { auditKey } : {}) });
  }
  const file = databasePath(dataDir);
  if (options.mustExist === false) createPrivateFile(file);
  const raw = openSqliteFile(file, { mustExist: options.mustExist ?? true });
  try {
    if (options.migrate ?? true) migrate(raw, ALL_MIGRATIONS, clock);
  } catch (e) {
    raw.close();
    throw e;
  }
  const reader = openSqliteFile(file);
  reader.pragma("query_only = ON");
  return new Db({
    dialect: "sqlite",
    writer: sqliteKysely(raw),
    reader: sqliteKysely(reader),
    clock,
    ...(auditKey ? { auditKey } : {}),
  });
}

import { join } from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./migrate.js";
import { createPrivateFile } from "./private-files.js";

/** The database file inside a data folder. */
export function databasePath(dataDir: string): string {
  return join(dataDir, "sealpost.db");
}

/**
 * Opens `<data>/sealpost.db` with WAL, foreign keys on and busy_timeout 5000, and applies pending migrations
 * (unless `migrate: false`). `mustExist` (default true) refuses to create a new database (use `init` for that); a
 * new one is created with mode 0600.
 */
export function openDatabase(
  dataDir: string,
  options: { mustExist?: boolean; migrate?: boolean } = {},
): Database.Database {
  if (options.mustExist === false) createPrivateFile(databasePath(dataDir));
  const db = new Database(databasePath(dataDir), { fileMustExist: options.mustExist ?? true });
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma("synchronous = FULL");
  if (options.migrate ?? true) migrate(db);
  return db;
}

import BetterSqlite3 from "better-sqlite3";
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from "kysely";
import type { Database } from "./schema.js";

/**
 * Opens a SQLite database file the relay's way: WAL, foreign keys on, busy_timeout 5000 ms, synchronous FULL.
 * `mustExist` (default true) refuses to create a new file.
 */
export function openSqliteFile(
  path: string,
  options: { mustExist?: boolean; readonly?: boolean } = {},
): BetterSqlite3.Database {
  const db = new BetterSqlite3(path, { fileMustExist: options.mustExist ?? true, readonly: options.readonly ?? false });
  if (!options.readonly) db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  if (!options.readonly) db.pragma("synchronous = FULL");
  return db;
}

/**
 * better-sqlite3 as Kysely's SqliteDialect sees it, with two changes: prepared statements are kept and reused by
 * their SQL text (at most `maxStatements`; Kysely would prepare every query again), and a transaction begins with
 * BEGIN IMMEDIATE, so it holds SQLite's write lock from its first statement: two transactions (in this process or
 * another one on the same file) never both read and then both write, and no transaction fails half-way with
 * SQLITE_BUSY on its first write.
 */
class StatementCache implements SqliteDatabase {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly closeRaw: boolean,
    private readonly maxStatements = 1000,
  ) {}

  prepare(sql: string): SqliteStatement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.raw.prepare(sql === "begin" ? "begin immediate" : sql);
      if (this.statements.size >= this.maxStatements) this.statements.clear();
      this.statements.set(sql, s);
    }
    return s as unknown as SqliteStatement;
  }

  close(): void {
    if (this.closeRaw) this.raw.close();
  }
}

/**
 * Kysely over an open better-sqlite3 connection. `closeRaw` (default true): destroying the Kysely instance closes
 * the connection.
 */
export function sqliteKysely(raw: BetterSqlite3.Database, options: { closeRaw?: boolean } = {}): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: new StatementCache(raw, options.closeRaw ?? true) }),
  });
}

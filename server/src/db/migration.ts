import type Database from "better-sqlite3";

/** One schema step. `id` is "<module>-NNN" ("core-001", "mail-001"...); `up` runs inside a transaction, once. */
export interface Migration {
  id: string;
  up(db: Database.Database): void;
}

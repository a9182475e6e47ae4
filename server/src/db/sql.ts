import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.js";

/** The two databases the relay runs on: SQLite (embedded, the default) and PostgreSQL (several instances). */
export type Dialect = "sqlite" | "postgres";

/** What a repository queries through: the connection or the open transaction of its unit of work. */
export interface SqlContext {
  /** Kysely over the `Database` tables (typed rows, no casts). */
  readonly q: Kysely<Database> | Transaction<Database>;
  readonly dialect: Dialect;
  /** True inside `Db.tx`: writes that must be atomic with others (the audit append) require it. */
  readonly inTransaction: boolean;
}

/** True for a unique or primary-key violation on either database (a concurrent insert of the same key). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

import { CompiledQuery } from "kysely";
import type { Db } from "../../src/db/db.js";

/**
 * Raw SQL against a server's database, for the tests that read storage to check it or tamper with it on purpose.
 * Placeholders are `?` (numbered for PostgreSQL here). Runs on the writing connection, outside any transaction.
 */
function compile(db: Db, text: string, params: unknown[]): CompiledQuery {
  let n = 0;
  const sqlText = db.dialect === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  return CompiledQuery.raw(sqlText, params);
}

export async function rawAll<T = Record<string, unknown>>(db: Db, text: string, ...params: unknown[]): Promise<T[]> {
  return (await db.kysely.executeQuery(compile(db, text, params))).rows as T[];
}

export async function rawGet<T = Record<string, unknown>>(
  db: Db,
  text: string,
  ...params: unknown[]
): Promise<T | undefined> {
  return (await rawAll<T>(db, text, ...params))[0];
}

/** Runs a statement; returns the number of rows it changed. */
export async function rawRun(db: Db, text: string, ...params: unknown[]): Promise<number> {
  return Number((await db.kysely.executeQuery(compile(db, text, params))).numAffectedRows ?? 0);
}

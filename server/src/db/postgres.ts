import { readFileSync } from "node:fs";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { ServerError } from "../errors.js";
import type { Database } from "./schema.js";

/** PostgreSQL's type ids the relay reads as JavaScript numbers: int8 (bigint, COUNT) and numeric (SUM). */
const INT8 = 20;
const NUMERIC = 1700;

/** How the relay connects to PostgreSQL (config.json `database`). */
export interface PostgresConfig {
  /** postgres://USER@HOST:PORT/DBNAME (or ?host=/socket/dir). A password in the URL is refused. */
  url: string;
  /**
   * A file holding the password (first line), read at start. Without it the password comes from PGPASSWORD or a
   * passfile (PGPASSFILE, default ~/.pgpass), as libpq does; or no password (peer or trust authentication).
   */
  passwordFile?: string;
  /** Connections per instance. Default 10. */
  poolSize?: number;
}

/** True for a postgres:// or postgresql:// URL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Checks a PostgreSQL URL for config.json and `init --db`: it must parse, and must not carry a password (a password
 * in a URL ends up in argv, shell history, config.json and logs). Throws ServerError BAD_REQUEST.
 */
export function checkPostgresUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ServerError("BAD_REQUEST", "The database URL is not a valid postgres:// URL.");
  }
  if (!isPostgresUrl(url)) throw new ServerError("BAD_REQUEST", "The database URL must start with postgres://.");
  if (u.password) {
    throw new ServerError("BAD_REQUEST", "The database URL must not contain a password.", {
      hint: "Give postgres://USER@HOST:PORT/DB and the password in PGPASSWORD, a passfile (~/.pgpass) or database.passwordFile.",
    });
  }
  return u;
}

/** The URL with any password removed, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return "(unparsable database URL)";
  }
}

/** A pg connection pool for `config` (no connection is made until the first query). */
export function postgresPool(config: PostgresConfig, options: { applicationName?: string } = {}): pg.Pool {
  const url = checkPostgresUrl(config.url);
  const password = config.passwordFile ? readFileSync(config.passwordFile, "utf8").split(/\r?\n/)[0] : undefined;
  // Given as fields, not as connectionString: pg lets the string's (absent) password override an explicit one.
  const socketHost = url.searchParams.get("host");
  return new pg.Pool({
    host: socketHost ?? (url.hostname.replace(/^\[|\]$/g, "") || "localhost"),
    port: url.port ? Number(url.port) : 5432,
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    ...(password !== undefined ? { password } : {}),
    max: config.poolSize ?? 10,
    application_name: options.applicationName ?? "sealpost-server",
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8 || oid === NUMERIC
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
}

/** Kysely over a pg pool; destroying it ends the pool. */
export function postgresKysely(pool: pg.Pool): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

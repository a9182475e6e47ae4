import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the auth domain (after core-001..005, which hold its challenges and tokens tables).
 *
 * - auth-001: `rate_limits`, the per-source token buckets of the login endpoints, in the database so every relay
 *   instance draws from the same bucket. `tokens` left at `at_ms` (milliseconds since the epoch); idle rows are
 *   pruned by `at_ms`.
 */
export const migrations: Migration[] = [
  {
    id: "auth-001",
    sqlite: `CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tokens REAL NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX rate_limits_at ON rate_limits(at_ms);`,
    postgres: `CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at_ms BIGINT NOT NULL);
CREATE INDEX rate_limits_at ON rate_limits(at_ms);`,
  },
];

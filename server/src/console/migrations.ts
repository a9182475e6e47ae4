import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the console domain.
 *
 * - console-001: `console_codes` (one-time login codes of the web console, by the SHA-256 of the code and of the
 *   page's poll token) and `console_sessions` (a console session's idle clock, beside its `tokens` row).
 */
export const migrations: Migration[] = [
  {
    id: "console-001",
    sqlite: `CREATE TABLE console_codes (code_hash TEXT PRIMARY KEY, poll_hash TEXT NOT NULL UNIQUE, staff_id TEXT, cert_id TEXT, expires_at TEXT NOT NULL);
CREATE INDEX console_codes_expires ON console_codes(expires_at);
CREATE TABLE console_sessions (token_hash TEXT PRIMARY KEY, last_seen_ms INTEGER NOT NULL);`,
    postgres: `CREATE TABLE console_codes (code_hash TEXT PRIMARY KEY, poll_hash TEXT NOT NULL UNIQUE, staff_id TEXT, cert_id TEXT, expires_at TEXT NOT NULL);
CREATE INDEX console_codes_expires ON console_codes(expires_at);
CREATE TABLE console_sessions (token_hash TEXT PRIMARY KEY, last_seen_ms BIGINT NOT NULL);`,
  },
];

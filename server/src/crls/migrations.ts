import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the CRL refresh (server/src/crls).
 *
 * - crls-001: `crls`, the CRLs every relay instance validates with: one row per source (`file:PATH` for a configured
 *   file or a file of the CRL folder, `url:URL` for a distribution point; `#N` appended for a source's later CRLs).
 *   The refresh job (one instance, lease "crl-refresh") writes them; every instance reloads when `updated_at`
 *   changes. A source that failed keeps its last good CRL and says why in `last_error` (a source that never
 *   worked has no CRL columns). `warned_for`: the nextUpdate ops were last warned about.
 */
export const migrations: Migration[] = [
  {
    id: "crls-001",
    sqlite: `CREATE TABLE crls (
  source TEXT PRIMARY KEY,
  issuer TEXT,
  sha256 TEXT,
  der BLOB,
  this_update TEXT,
  next_update TEXT,
  crl_number TEXT,
  updated_at TEXT NOT NULL,
  checked_at TEXT NOT NULL,
  last_error TEXT,
  warned_for TEXT
);`,
    postgres: `CREATE TABLE crls (
  source TEXT PRIMARY KEY,
  issuer TEXT,
  sha256 TEXT,
  der BYTEA,
  this_update TEXT,
  next_update TEXT,
  crl_number TEXT,
  updated_at TEXT NOT NULL,
  checked_at TEXT NOT NULL,
  last_error TEXT,
  warned_for TEXT
);`,
  },
];

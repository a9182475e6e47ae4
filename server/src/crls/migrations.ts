import type { Migration } from "../db/migration.js";

/**
 * Schema of the CRL refresh module. crl-001: `crl_state`, one row per CRL source (a configured file, a file of the
 * CRL folder, or a distribution point URL) and CRL issuer: what the last refresh read there (times ISO-8601 UTC),
 * the last error (null when the last attempt succeeded), and the nextUpdate ops were last warned about (one mail
 * per CRL version). `issuer` is '' for a source that never yielded a usable CRL.
 */
export const migrations: Migration[] = [
  {
    id: "crl-001",
    up(db) {
      db.exec(`
        CREATE TABLE crl_state (
          source TEXT NOT NULL,
          issuer TEXT NOT NULL,
          sha256 TEXT,
          this_update TEXT,
          next_update TEXT,
          crl_number TEXT,
          checked_at TEXT NOT NULL,
          last_error TEXT,
          warned_next_update TEXT,
          PRIMARY KEY (source, issuer)
        );
      `);
    },
  },
];

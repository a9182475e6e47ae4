import type { Migration } from "../db/migration.js";

/**
 * Schema of the rosters domain, for SQLite and PostgreSQL: each agency's roster officers (registered signing
 * certificates), the signed rosters the relay stores (every version, never updated), and the entries of each
 * version (the relay's index of which certificates a roster lists, used to choose a case's recipients). Ids are
 * "rosters-NNN"; never edit an applied migration, add a new one.
 */
export const migrations: Migration[] = [
  {
    id: "rosters-001",
    sqlite: `
        CREATE TABLE roster_officers (
          agency TEXT NOT NULL REFERENCES agencies(code),
          cert_sha256 TEXT NOT NULL,
          staff_id TEXT NOT NULL REFERENCES staff(id),
          added_at TEXT NOT NULL,
          added_by TEXT,
          removed_at TEXT,
          PRIMARY KEY (agency, cert_sha256)
        );

        CREATE TABLE rosters (
          agency TEXT NOT NULL REFERENCES agencies(code),
          version INTEGER NOT NULL CHECK (version >= 1),
          issued_at TEXT NOT NULL,
          signer_sha256 TEXT NOT NULL,
          content_sha256 TEXT NOT NULL,
          content TEXT NOT NULL,
          cms BLOB NOT NULL,
          stored_at TEXT NOT NULL,
          PRIMARY KEY (agency, version)
        );

        CREATE TABLE roster_entries (
          agency TEXT NOT NULL,
          version INTEGER NOT NULL,
          staff_id TEXT NOT NULL,
          cert_sha256 TEXT NOT NULL,
          PRIMARY KEY (agency, version, cert_sha256),
          FOREIGN KEY (agency, version) REFERENCES rosters(agency, version)
        );
      `,
    postgres: `
        CREATE TABLE roster_officers (
          agency TEXT NOT NULL REFERENCES agencies(code),
          cert_sha256 TEXT NOT NULL,
          staff_id TEXT NOT NULL REFERENCES staff(id),
          added_at TEXT NOT NULL,
          added_by TEXT,
          removed_at TEXT,
          PRIMARY KEY (agency, cert_sha256)
        );

        CREATE TABLE rosters (
          agency TEXT NOT NULL REFERENCES agencies(code),
          version INTEGER NOT NULL CHECK (version >= 1),
          issued_at TEXT NOT NULL,
          signer_sha256 TEXT NOT NULL,
          content_sha256 TEXT NOT NULL,
          content TEXT NOT NULL,
          cms BYTEA NOT NULL,
          stored_at TEXT NOT NULL,
          PRIMARY KEY (agency, version)
        );

        CREATE TABLE roster_entries (
          agency TEXT NOT NULL,
          version INTEGER NOT NULL,
          staff_id TEXT NOT NULL,
          cert_sha256 TEXT NOT NULL,
          PRIMARY KEY (agency, version, cert_sha256),
          FOREIGN KEY (agency, version) REFERENCES rosters(agency, version)
        );
      `,
  },
];

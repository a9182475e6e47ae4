import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the background jobs.
 *
 * - jobs-001: `job_leases`, one row per job that must run on one relay instance at a time (mail, retention, the drop
 *   scheduler, one per drop run, the CRL refresh; also one per case upload in progress, `upload:<case id>`): the
 *   instance holding it and until when. An instance that stops
 *   renewing (killed, hung, cut off from the database) loses it at `expires_at`; `generation` counts changes of hands.
 */
export const migrations: Migration[] = [
  {
    id: "jobs-001",
    sqlite: `CREATE TABLE job_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  generation INTEGER NOT NULL
);`,
    postgres: `CREATE TABLE job_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  generation BIGINT NOT NULL
);`,
  },
];

import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the retention domain, applied after the mail migrations (see server/src/db/all-migrations.ts).
 *
 * - retention-001: `purged_files`, one row per (file, case, role) whose stored content was deleted by the retention
 *   purge (role "payload" or "result"). The case keeps its hashes and receipts; `files.purged_at` (core) says the
 *   bytes are gone, this table says for which case and role they were purged.
 */
export const migrations: Migration[] = [
  {
    id: "retention-001",
    sqlite: `
        CREATE TABLE purged_files (
          sha256 TEXT NOT NULL,
          case_id TEXT NOT NULL,
          role TEXT NOT NULL,
          purged_at TEXT NOT NULL,
          PRIMARY KEY (sha256, case_id, role)
        );
        CREATE INDEX purged_files_case ON purged_files (case_id);
      `,
    postgres: `
        CREATE TABLE purged_files (
          sha256 TEXT NOT NULL,
          case_id TEXT NOT NULL,
          role TEXT NOT NULL,
          purged_at TEXT NOT NULL,
          PRIMARY KEY (sha256, case_id, role)
        );
        CREATE INDEX purged_files_case ON purged_files (case_id);
      `,
  },
];

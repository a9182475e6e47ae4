import type Database from "better-sqlite3";

/**
 * One schema step. Local copy of the shape in server/src/db/migration.ts (owned by server-core); structurally
 * identical, so either type is accepted by the runner. Switch to the import once that file exists.
 */
export interface Migration {
  id: string;
  up(db: Database.Database): void;
}

/**
 * Schema owned by the mail and retention modules, applied after the core migrations (see server/src/db/all-migrations.ts).
 *
 * - mail-001: `mail_outbox`, the durable outbox. Timestamps are ISO-8601 UTC strings (`Date#toISOString`), which
 *   sort as text. `recipients` is a JSON array of addresses. State moves queued -> sending -> sent, or back to
 *   queued after a failed attempt, or to failed once the attempts run out.
 * - retention-001: `purged_files`, one row per (file, case) whose stored content was deleted by the retention purge.
 *   The case keeps its hashes and receipts; this table records that the bytes are gone and when.
 */
export const migrations: Migration[] = [
  {
    id: "mail-001",
    up(db) {
      db.exec(`
        CREATE TABLE mail_outbox (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          created_at TEXT NOT NULL,
          kind TEXT NOT NULL,
          case_id TEXT,
          recipients TEXT NOT NULL,
          subject TEXT NOT NULL,
          body TEXT NOT NULL,
          state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at TEXT NOT NULL,
          last_error TEXT,
          sent_at TEXT
        );
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_case ON mail_outbox (case_id);
      `);
    },
  },
  {
    id: "retention-001",
    up(db) {
      db.exec(`
        CREATE TABLE purged_files (
          sha256 TEXT NOT NULL,
          case_id TEXT NOT NULL,
          role TEXT NOT NULL,
          purged_at TEXT NOT NULL,
          PRIMARY KEY (sha256, case_id, role)
        );
        CREATE INDEX purged_files_case ON purged_files (case_id);
      `);
    },
  },
];

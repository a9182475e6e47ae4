import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the mail domain, applied after the core migrations (see server/src/db/all-migrations.ts).
 *
 * - mail-001: `mail_outbox`, the durable outbox. Timestamps are ISO-8601 UTC strings (`Date#toISOString`), which
 *   sort as text. `recipients` is a JSON array of addresses. State moves queued -> sending -> sent, or back to
 *   queued after a failed attempt, or to failed once the attempts run out. `attempts` counts finished
 *   failed attempts (and sends interrupted by a crash); `last_attempt_at` is when the last one ended.
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
          last_attempt_at TEXT,
          sent_at TEXT
        );
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_case ON mail_outbox (case_id);
      `);
    },
  },
];

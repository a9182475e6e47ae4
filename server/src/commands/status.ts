import type Database from "better-sqlite3";
import { type CrlStatus, crlStatus } from "../crls/index.js";
import { type MailStatus, mailStatus } from "../mail/outbox.js";
import { type RetentionStatus, retentionStatus } from "../retention/status.js";

/** What `sealpost-server status` reports: case counts by state, the mail outbox, retention. */
export interface ServerStatus {
  cases: Record<string, number>;
  mail: MailStatus;
  retention: RetentionStatus;
  /** The CRLs as the refresh job last left them, judged now, with a warning per CRL stale or about to be. */
  crls: CrlStatus;
}

export function serverStatus(
  db: Database.Database,
  options: { retentionDays: number; crlWarnBeforeHours?: number; now?: Date },
): ServerStatus {
  const cases: Record<string, number> = {};
  for (const r of db.prepare("SELECT state, COUNT(*) AS n FROM cases GROUP BY state").all() as {
    state: string;
    n: number;
  }[]) {
    cases[r.state] = r.n;
  }
  return {
    cases,
    mail: mailStatus(db),
    retention: retentionStatus(db, { retentionDays: options.retentionDays }),
    crls: crlStatus(db, {
      ...(options.now ? { now: options.now } : {}),
      ...(options.crlWarnBeforeHours !== undefined ? { warnBeforeMs: options.crlWarnBeforeHours * 3600_000 } : {}),
    }),
  };
}

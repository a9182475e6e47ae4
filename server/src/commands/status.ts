import type Database from "better-sqlite3";
import { type MailStatus, mailStatus } from "../mail/outbox.js";
import { type RetentionStatus, retentionStatus } from "../retention/status.js";

/** What `sealpost-server status` reports: case counts by state, the mail outbox, retention. */
export interface ServerStatus {
  cases: Record<string, number>;
  mail: MailStatus;
  retention: RetentionStatus;
}

export function serverStatus(db: Database.Database, options: { retentionDays: number }): ServerStatus {
  const cases: Record<string, number> = {};
  for (const r of db.prepare("SELECT state, COUNT(*) AS n FROM cases GROUP BY state").all() as {
    state: string;
    n: number;
  }[]) {
    cases[r.state] = r.n;
  }
  return { cases, mail: mailStatus(db), retention: retentionStatus(db, { retentionDays: options.retentionDays }) };
}

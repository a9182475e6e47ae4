import { type CrlSourceStatus, crlStatus } from "../crls/status.js";
import type { Db } from "../db/db.js";
import { type MailStatus, mailStatus } from "../mail/outbox.js";
import { type RetentionStatus, retentionStatus } from "../retention/status.js";

/** What `sealpost-server status` reports: case counts by state, the mail outbox, retention, the CRLs. */
export interface ServerStatus {
  cases: Record<string, number>;
  mail: MailStatus;
  retention: RetentionStatus;
  crls: CrlSourceStatus[];
}

export async function serverStatus(
  db: Db,
  options: { retentionDays: number; now?: Date; crlWarnBeforeMs?: number },
): Promise<ServerStatus> {
  return {
    cases: await db.read((uow) => uow.cases.countByState()),
    mail: await mailStatus(db),
    retention: await retentionStatus(db, {
      retentionDays: options.retentionDays,
      ...(options.now ? { now: options.now } : {}),
    }),
    crls: await crlStatus(db, {
      ...(options.now ? { now: options.now } : {}),
      ...(options.crlWarnBeforeMs !== undefined ? { warnBeforeMs: options.crlWarnBeforeMs } : {}),
    }),
  };
}

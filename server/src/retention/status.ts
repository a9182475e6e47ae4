import type { Db } from "../db/db.js";
import { checkRetentionDays } from "./purge.js";

/** What `sealpost-server status` shows about retention. */
export interface RetentionStatus {
  retentionDays: number;
  /** Files purged so far and their total size in bytes. */
  purgedFiles: number;
  purgedBytes: number;
  /** When the last file was purged (ISO-8601 UTC), or null. */
  lastPurgedAt: string | null;
  /** Files the next run would purge, and their size: non-zero for long means the retention worker is not running. */
  dueFiles: number;
  dueBytes: number;
}

/** Retention figures at `now` (default: the current time). Throws RetentionError BAD_CONFIG for a bad retentionDays. */
export async function retentionStatus(
  db: Db,
  options: { retentionDays: number; now?: Date },
): Promise<RetentionStatus> {
  const days = checkRetentionDays(options.retentionDays);
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - days * 24 * 3600_000).toISOString();
  const { done, due } = await db.read(async (uow) => ({
    done: await uow.retention.purgedTotals(),
    due: await uow.retention.purgeCandidates(cutoff),
  }));
  return {
    retentionDays: days,
    purgedFiles: done.n,
    purgedBytes: done.bytes,
    lastPurgedAt: done.last,
    dueFiles: due.length,
    dueBytes: due.reduce((n, f) => n + f.size, 0),
  };
}

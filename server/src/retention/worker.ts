import type { Db } from "../db/db.js";
import type { Logger } from "../log.js";
import { pruneSentMail } from "../mail/outbox.js";
import { checkRetentionDays, type PurgeOptions, type PurgeResult, purgeExpiredFiles } from "./purge.js";

/** Settings of the periodic purge. */
export interface RetentionWorkerOptions extends Omit<PurgeOptions, "now"> {
  /** Pause between runs. Default 1 hour; 0 runs only the first run (at start). */
  intervalMs?: number;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
  /** Days a delivered notice stays in the mail outbox (its delivery stays in the audit log). Default 90. */
  sentMailDays?: number;
  log: Logger;
}

/** What one run of the retention worker did. */
export interface RetentionRunResult extends PurgeResult {
  /** Delivered notices deleted from the mail outbox. */
  sentMailPruned: number;
}

/** A running retention worker. */
export interface RetentionWorker {
  /** Runs a purge now (after the run in progress, if any) and resolves with its result. */
  runOnce(): Promise<RetentionRunResult>;
  /** Stops the timer and waits for the run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs purgeExpiredFiles (and prunes delivered notices older than `sentMailDays` from the mail outbox) once at
 * start and then every `intervalMs`. Runs never overlap. A run that throws is
 * logged as an error and the next one still happens. Throws RetentionError BAD_CONFIG at once for a bad
 * retentionDays.
 */
export function startRetentionWorker(db: Db, options: RetentionWorkerOptions): RetentionWorker {
  const { intervalMs = 3600_000, now = () => new Date(), sentMailDays = 90, log, ...purge } = options;
  checkRetentionDays(purge.retentionDays);
  checkRetentionDays(sentMailDays);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  async function run(at: Date): Promise<RetentionRunResult> {
    const result = await purgeExpiredFiles(db, { ...purge, log, now: at });
    const sentMailPruned = await pruneSentMail(db, new Date(at.getTime() - sentMailDays * 24 * 3600_000));
    if (sentMailPruned > 0) log.info("retention: pruned delivered notices from the mail outbox", { sentMailPruned });
    return { ...result, sentMailPruned };
  }

  function runOnce(): Promise<RetentionRunResult> {
    const at = now(); // the time of the request, not of the (possibly later) start of the run
    const next = chain.then(() => run(at));
    chain = next.catch(() => undefined);
    return next;
  }

  function tick(): void {
    runOnce()
      .catch((err) =>
        log.error("retention: purge run failed", { error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => {
        if (stopped || intervalMs <= 0) return;
        timer = setTimeout(tick, intervalMs);
        timer.unref();
      });
  }
  tick();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}

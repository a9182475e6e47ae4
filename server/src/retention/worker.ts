import type Database from "better-sqlite3";
import type { Logger } from "../log.js";
import { checkRetentionDays, type PurgeOptions, type PurgeResult, purgeExpiredFiles } from "./purge.js";

/** Settings of the periodic purge. */
export interface RetentionWorkerOptions extends Omit<PurgeOptions, "now"> {
  /** Pause between runs. Default 1 hour; 0 runs only the first run (at start). */
  intervalMs?: number;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
  log: Logger;
}

/** A running retention worker. */
export interface RetentionWorker {
  /** Runs a purge now (after the run in progress, if any) and resolves with its result. */
  runOnce(): Promise<PurgeResult>;
  /** Stops the timer and waits for the run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs purgeExpiredFiles once at start and then every `intervalMs`. Runs never overlap. A run that throws is
 * logged as an error and the next one still happens. Throws RetentionError BAD_CONFIG at once for a bad
 * retentionDays.
 */
export function startRetentionWorker(db: Database.Database, options: RetentionWorkerOptions): RetentionWorker {
  const { intervalMs = 3600_000, now = () => new Date(), log, ...purge } = options;
  checkRetentionDays(purge.retentionDays);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  function runOnce(): Promise<PurgeResult> {
    const at = now(); // the time of the request, not of the (possibly later) start of the run
    const run = chain.then(() => purgeExpiredFiles(db, { ...purge, log, now: at }));
    chain = run.catch(() => undefined);
    return run;
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

import type { Logger } from "../log.js";

/** A job that runs at start and then periodically (see startPeriodicJob). */
export interface PeriodicJob<R> {
  /** Runs the job now (after the run in progress, if any) and resolves with its result. */
  runOnce(): Promise<R>;
  /** Stops the timer and waits for the run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `run` once at start and then `intervalMs` after each run ends (0: only the run at start). Runs never overlap:
 * on-demand runs (`runOnce`) queue behind the one in progress. Each run gets the time it was asked for (`now()`,
 * default the current time), not the time it started. A run that throws is logged as `failure` and the next one
 * still happens. Timers are unref'd (they never keep the process alive).
 */
export function startPeriodicJob<R>(o: {
  run: (at: Date) => Promise<R>;
  intervalMs: number;
  log: Logger;
  /** The log message of a failed run, e.g. "retention: purge run failed". */
  failure: string;
  now?: () => Date;
}): PeriodicJob<R> {
  const now = o.now ?? (() => new Date());
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  function runOnce(): Promise<R> {
    const at = now();
    const next = chain.then(() => o.run(at));
    chain = next.catch(() => undefined);
    return next;
  }

  function tick(): void {
    runOnce()
      .catch((err) => o.log.error(o.failure, { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        if (stopped || o.intervalMs <= 0) return;
        timer = setTimeout(tick, o.intervalMs);
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

import type { Logger } from "../log.js";
import type { CrlRefresher, CrlRunResult } from "./refresh.js";

/** Default pause between CRL refreshes: 1 hour. */
export const DEFAULT_CRL_REFRESH_MS = 3600_000;

/** A running CRL refresh job. */
export interface CrlRefreshWorker {
  /** Runs a refresh now (after the one in progress, if any) and resolves with its result. */
  runOnce(): Promise<CrlRunResult>;
  /** Stops the timer and waits for the run in progress. */
  stop(): Promise<void>;
}

/**
 * The job entry point: runs `refresher.runOnce()` at start and then every `intervalMs` (default 1 hour; 0 runs
 * only at start). Runs never overlap; a run that throws is logged and the next one still happens.
 */
export function startCrlRefreshWorker(
  refresher: CrlRefresher,
  options: { intervalMs?: number; log: Logger },
): CrlRefreshWorker {
  const { intervalMs = DEFAULT_CRL_REFRESH_MS, log } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  function runOnce(): Promise<CrlRunResult> {
    const next = chain.then(() => refresher.runOnce());
    chain = next.catch(() => undefined);
    return next;
  }

  function tick(): void {
    runOnce()
      .catch((err) => log.error("crl: refresh run failed", { error: err instanceof Error ? err.message : String(err) }))
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

import { type PeriodicJob, startPeriodicJob } from "../jobs/periodic.js";
import type { Logger } from "../log.js";
import type { CrlRefresher, CrlRunResult } from "./refresh.js";

/** Default pause between CRL refreshes: 1 hour. */
export const DEFAULT_CRL_REFRESH_MS = 3600_000;

/** A running CRL refresh job: `runOnce()` refreshes now (after the run in progress), `stop()` ends it. */
export type CrlRefreshWorker = PeriodicJob<CrlRunResult>;

/**
 * The job entry point: runs `refresher.runOnce()` at start and then every `intervalMs` (default 1 hour; 0 runs
 * only at start). Runs never overlap; a run that throws is logged and the next one still happens.
 */
export function startCrlRefreshWorker(
  refresher: CrlRefresher,
  options: { intervalMs?: number; log: Logger },
): CrlRefreshWorker {
  return startPeriodicJob({
    run: () => refresher.runOnce(),
    intervalMs: options.intervalMs ?? DEFAULT_CRL_REFRESH_MS,
    log: options.log,
    failure: "crl: refresh run failed",
  });
}

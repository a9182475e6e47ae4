import type { ServerContext } from "../context.js";
import type { Job } from "../jobs/runner.js";
import { CRL_REFRESH_DEFAULTS, refreshCrls } from "./refresh.js";

/**
 * The "crl-refresh" job (one instance at a time, under its lease): refreshes the CRLs at start and then every
 * `trust.crlRefresh.intervalMs` (default 1 hour), and reloads this instance's trust at once after a change (the
 * other instances see it within their sync interval). `stop()` waits for a refresh in progress.
 */
export function crlRefreshJob(ctx: ServerContext): Job {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = true;
  const intervalMs = ctx.config.trust.crlRefresh?.intervalMs ?? CRL_REFRESH_DEFAULTS.intervalMs;
  const once = async () => {
    try {
      const report = await refreshCrls(ctx.db, {
        dataDir: ctx.dataDir,
        trust: ctx.config.trust,
        issuers: [...ctx.trust.anchors, ...ctx.intermediates],
        fetch: ctx.config.trust.crlRefresh?.fetch ?? true,
        now: () => ctx.clock.now(),
        log: ctx.log,
      });
      if (report.changed.length > 0) await ctx.trust.reload();
    } catch (e) {
      ctx.log.error("crl: the refresh failed", { error: (e as Error).message });
    }
  };
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = once().finally(() => schedule(intervalMs));
    }, delay);
    timer.unref();
  };
  return {
    name: "crl-refresh",
    start() {
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

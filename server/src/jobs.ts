import type { ServerContext } from "./context.js";
import { startMailWorker } from "./mail/worker.js";
import { startRetentionWorker } from "./retention/worker.js";
import type { Services } from "./services.js";

/** The background jobs of a running server, started in one place. */
export interface RunningJobs {
  /** Stops every job and waits for the work in progress. */
  stop(): Promise<void>;
}

/**
 * Starts every background job: the mail outbox worker (when SMTP is configured; otherwise notices wait in the
 * outbox, visible in `status`), the retention purge (sealed files `retentionDays` after a case ends) and the SFTP
 * drop scheduler. HTTP plugins never start jobs.
 */
export function startJobs(ctx: ServerContext, services: Services): RunningJobs {
  if (!ctx.config.smtp) ctx.log.warn("no SMTP server configured: notices stay queued in the mail outbox");
  const mail = ctx.config.smtp
    ? startMailWorker(ctx.db, { smtp: ctx.config.smtp, ...ctx.config.mail }, ctx.log)
    : undefined;
  const retention = startRetentionWorker(ctx.db, {
    store: ctx.store,
    retentionDays: ctx.config.retentionDays,
    log: ctx.log,
    ...(ctx.config.retentionIntervalMs !== undefined ? { intervalMs: ctx.config.retentionIntervalMs } : {}),
  });
  services.drops
    .start()
    .catch((e) => ctx.log.error("drop scheduler did not start", { error: e instanceof Error ? e.message : String(e) }));
  return {
    async stop() {
      await services.drops.stop();
      await retention.stop();
      await mail?.stop();
    },
  };
}

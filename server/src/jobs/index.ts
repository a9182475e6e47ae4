import type { ServerContext } from "../context.js";
import { crlRefreshJob } from "../crls/job.js";
import { type MailWorker, startMailWorker } from "../mail/worker.js";
import { type RetentionWorker, startRetentionWorker } from "../retention/worker.js";
import type { Services } from "../services.js";
import { type Job, JobRunner } from "./runner.js";

export { DEFAULT_LEASE_TIMINGS, type Job, JobRunner, type LeaseTimings } from "./runner.js";

/** The background jobs of a running server, started in one place. */
export interface RunningJobs {
  runner: JobRunner;
  /** Stops every job, waits for the work in progress and gives the leases back. */
  stop(): Promise<void>;
}

/**
 * The server's background jobs, each run on one instance at a time under its lease (JobRunner): the mail outbox
 * worker ("mail", when SMTP is configured; otherwise notices wait in the outbox, visible in `status`), the retention
 * purge ("retention": sealed files `retentionDays` after a case ends), the CRL refresh ("crl-refresh":
 * server/src/crls/job.ts) and the SFTP drop scheduler ("drops"; each
 * drop run also holds its own lease, so manual runs on any instance never overlap). HTTP plugins never start jobs.
 */
export function serverJobs(ctx: ServerContext, services: Services): Job[] {
  const jobs: Job[] = [];
  const smtp = ctx.config.smtp;
  if (smtp) {
    let worker: MailWorker | undefined;
    jobs.push({
      name: "mail",
      start() {
        worker = startMailWorker(ctx.db, { smtp, ...ctx.config.mail, now: () => ctx.clock.now() }, ctx.log);
      },
      async stop() {
        await worker?.stop();
        worker = undefined;
      },
    });
  } else {
    ctx.log.warn("no SMTP server configured: notices stay queued in the mail outbox");
  }
  let retention: RetentionWorker | undefined;
  jobs.push({
    name: "retention",
    start() {
      retention = startRetentionWorker(ctx.db, {
        store: ctx.store,
        retentionDays: ctx.config.retentionDays,
        log: ctx.log,
        now: () => ctx.clock.now(),
        ...(ctx.config.retentionIntervalMs !== undefined ? { intervalMs: ctx.config.retentionIntervalMs } : {}),
      });
    },
    async stop() {
      await retention?.stop();
      retention = undefined;
    },
  });
  jobs.push(crlRefreshJob(ctx));
  jobs.push({
    name: "drops",
    start: () => services.drops.start(),
    stop: () => services.drops.pauseSchedules(),
  });
  return jobs;
}

/** Starts the job runner over serverJobs; resolves once this instance took the leases it could. */
export async function startJobs(ctx: ServerContext, services: Services): Promise<RunningJobs> {
  const runner = new JobRunner(ctx.db, serverJobs(ctx, services), {
    instance: ctx.instance,
    clock: ctx.clock,
    log: ctx.log,
    ...(ctx.config.jobs ? { timings: ctx.config.jobs } : {}),
  });
  await runner.start();
  return {
    runner,
    async stop() {
      await runner.stop();
      await services.drops.stop();
    },
  };
}

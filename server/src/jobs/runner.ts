import type { Clock } from "../clock.js";
import type { Db } from "../db/db.js";
import type { Logger } from "../log.js";

/** A background job: started when this instance takes its lease, stopped when it loses it or shuts down. */
export interface Job {
  /** The lease name, the same on every instance ("mail", "retention", "drops", "crl-refresh"). */
  name: string;
  start(): Promise<void> | void;
  /** Stops the job and waits for the work in progress. */
  stop(): Promise<void>;
}

/** Lease timings. */
export interface LeaseTimings {
  /** How long a lease lasts without renewal: how long a killed instance's jobs wait for another. Default 30 000 ms. */
  ttlMs: number;
  /** How often the holder renews (and others try to take free leases). Default 10 000 ms; well under ttlMs. */
  renewMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { ttlMs: 30_000, renewMs: 10_000 };

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs each job on exactly one instance at a time: every `renewMs` this instance tries to take or renew each job's
 * lease; it starts a job when it gets the lease and stops it when a renewal fails (another instance took the lease
 * after it expired, or the database could not be reached: a job is never kept running without its lease). A killed
 * instance's jobs move to another instance within `ttlMs + renewMs`. `stop()` stops the jobs and gives the leases
 * back, so another instance takes them at its next round.
 *
 * The lease bounds overlap only as far as the holder notices in time: a job's own steps must still be safe to repeat
 * after a crash (they are: see each job).
 */
export class JobRunner {
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly jobs: Job[],
    private readonly options: { instance: string; clock: Clock; log: Logger; timings?: Partial<LeaseTimings> },
  ) {}

  private get timings(): LeaseTimings {
    return { ...DEFAULT_LEASE_TIMINGS, ...this.options.timings };
  }

  /** Takes what leases it can now, then keeps renewing them. Resolves after the first round. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.schedule();
  }

  /** Whether this instance runs `name` now. */
  holds(name: string): boolean {
    return this.running.has(name);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.timings.renewMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.round = this.round.then(() => this.roundOnce());
    return this.round;
  }

  private async roundOnce(): Promise<void> {
    if (this.stopped) return;
    const { instance, clock, log } = this.options;
    for (const job of this.jobs) {
      let held = false;
      try {
        held = !!(await this.db.tx((uow) => uow.leases.acquire(job.name, instance, clock.now(), this.timings.ttlMs)));
      } catch (e) {
        log.error("jobs: could not take or renew a lease", { job: job.name, error: describe(e) });
      }
      if (this.stopped) return;
      if (held && !this.running.has(job.name)) {
        this.running.add(job.name);
        log.info("jobs: this instance runs the job now", { job: job.name, instance });
        try {
          await job.start();
        } catch (e) {
          log.error("jobs: a job did not start", { job: job.name, error: describe(e) });
        }
      } else if (!held && this.running.has(job.name)) {
        this.running.delete(job.name);
        log.warn("jobs: lease lost; stopping the job here", { job: job.name, instance });
        await job
          .stop()
          .catch((e) => log.error("jobs: a job did not stop cleanly", { job: job.name, error: describe(e) }));
      }
    }
  }

  /** Stops every job this instance runs and gives its leases back. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round.catch(() => {});
    const { instance, log } = this.options;
    for (const job of this.jobs) {
      if (!this.running.delete(job.name)) continue;
      await job
        .stop()
        .catch((e) => log.error("jobs: a job did not stop cleanly", { job: job.name, error: describe(e) }));
      await this.db
        .tx((uow) => uow.leases.release(job.name, instance))
        .catch((e) => log.error("jobs: could not give a lease back", { job: job.name, error: describe(e) }));
    }
  }
}

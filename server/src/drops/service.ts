import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { isSealpostError } from "@sealpost/protocol";
import { Cron } from "croner";
import type { AuditEntryInput } from "../audit/log.js";
import type { Db } from "../db/db.js";
import { isUniqueViolation } from "../db/sql.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { renderDropFailingMail } from "../mail/templates.js";
import { inspectSealedFile } from "./envelope.js";
import { DropError } from "./errors.js";
import { isHostKeyFingerprint } from "./fingerprint.js";
import { checkPrivateKey, readDropKey, stageDropKey } from "./keys.js";
import type { DeliverySource, PayloadSink } from "./ports.js";
import { pullOnce } from "./pull.js";
import { pushOnce } from "./push.js";
import type { DropFileEvent, RunContext, RunProgress } from "./run-context.js";
import { type SftpOpenOptions, SftpSession } from "./sftp.js";
import type { DropRepository } from "./repository.js";
import type { Drop, DropInput, DropRun, RunError } from "./types.js";

/** What the service tells ops when a drop turns failing (default: an e-mail through the outbox, see below). */
export interface DropFailingNotice {
  drop: Drop;
  run: DropRun;
  consecutiveFailures: number;
  lastError: string;
  lastSuccessAt: string | null;
}

export interface DropServiceOptions {
  db: Db;
  /** The server's data folder: keys live in `<data>/drops/keys/`, pull temp files in `<data>/drops/tmp/`. */
  dataDir: string;
  /** Registers pulled files as case payloads (server-core's upload rules). */
  payloads: PayloadSink;
  /** Sealed files waiting for push drops (default wiring: coreDeliverySource). */
  deliveries: DeliverySource;
  log?: Logger;
  /** Audit writer, called inside the transaction of the change. Default: `uow.audit.append`. */
  audit?: (uow: UnitOfWork, entry: AuditEntryInput) => Promise<void>;
  /**
   * Called inside the transaction that marks a drop failing. Default: an outbox notice (renderDropFailingMail) to
   * the drop's notifyEmails plus every active ops staff member's e-mail.
   */
  notifyFailing?: (uow: UnitOfWork, notice: DropFailingNotice) => Promise<void>;
  /** Fresh temp paths for pulled files; should be on the file store's file system. Default `<data>/drops/tmp/`. */
  tempPath?: () => string;
  /** Envelope check of a pulled file. Default: inspectSealedFile (@sealpost/cms inspect). */
  inspect?: RunContext["inspect"];
  /** Largest pulled file, bytes. Default 10 GiB. */
  maxFileBytes?: number;
  /**
   * Most entries of an outbox listing a pull looks at (the listing is read no further). Default 10 000; past it the
   * run records a LIST_TRUNCATED warning and the rest waits for a later run.
   */
  maxListEntries?: number;
  /** Connection options (timeouts, keepalive, the per-operation deadline opTimeoutMs). */
  sftp?: SftpOpenOptions;
  /**
   * Longest wait of `stop()` for runs in progress. Default 60 000 ms; runs still going then are logged and left to
   * end by themselves (each SFTP operation is bounded by sftp.opTimeoutMs).
   */
  stopTimeoutMs?: number;
  /** Longest wait between attempts, ms. Default 600000. */
  maxBackoffMs?: number;
  /** This relay instance's id (recorded as each run's owner). Default: random. */
  instance?: string;
  /** A run holds the lease `drop:<name>` for this long, renewed every third of it while it runs. Default 30 000 ms. */
  runLeaseMs?: number;
  now?: () => Date;
}

/** Who asks (recorded in the audit log). */
export interface DropActor {
  staffId: string;
  agency: string | null;
  source?: string | null;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Default failing notice: one outbox e-mail to the drop's notify list and every active ops staff member. */
export async function mailDropFailing(uow: UnitOfWork, n: DropFailingNotice): Promise<void> {
  const ops = (await uow.registry.activeStaffWithRole("ops")).map((r) => r.email);
  const to = [...new Set([...n.drop.notifyEmails, ...ops])];
  if (to.length === 0) return;
  const mail = renderDropFailingMail({
    name: n.drop.name,
    agency: n.drop.agency,
    consecutiveFailures: n.consecutiveFailures,
    lastError: n.lastError,
    lastSuccessAt: n.lastSuccessAt,
  });
  await uow.mail.enqueue({ to, subject: mail.subject, text: mail.text, kind: "drop.failing" }, uow.clock.now());
}

/**
 * SFTP drops: configuration (ops only, through routes.ts), cron scheduling and runs.
 *
 * Guarantees: runs of one drop never overlap (an in-process lock plus a "running" drop_runs row that a unique index
 * keeps single; a row left running by a dead process is marked aborted before the next run). A run retries failed
 * attempts with exponential backoff (retryBaseMs, doubled each time, at most maxBackoffMs) up to maxAttempts, except
 * for host key mismatches, refused logins and missing keys, which end it at once. A run that ends failed marks the
 * drop failing and, on the change from ok to failing, notifies ops; the next good run marks it ok. A run whose
 * retries are cut short by `stop()` is recorded as aborted and leaves the health alone. Every run is recorded:
 * start, end, attempts, files, bytes, errors.
 *
 * Obligations: call `start()` once to schedule enabled drops (and clean up stale runs), `stop()` before closing
 * the database.
 */
export class DropService {
  private readonly log: Logger;
  private readonly instance: string;
  private readonly crons = new Map<string, Cron>();
  private readonly running = new Map<string, Promise<DropRun>>();
  private readonly fileListeners = new Set<(e: DropFileEvent) => void>();
  private readonly attemptListeners = new Set<(e: { drop: string; runId: number; error: RunError }) => void>();
  private readonly sleeping = new Set<() => void>();
  private stopping = false;
  private readonly now: () => Date;

  constructor(private readonly opts: DropServiceOptions) {
    this.now = opts.now ?? (() => new Date());
    this.instance = opts.instance ?? randomBytes(8).toString("hex");
    this.log = opts.log ?? silentLogger;
  }

  /** Listens to per-file events of every run; returns the unsubscribe function. */
  onFile(listener: (e: DropFileEvent) => void): () => void {
    this.fileListeners.add(listener);
    return () => this.fileListeners.delete(listener);
  }

  /** Listens to failed attempts (before any retry wait); returns the unsubscribe function. */
  onAttemptFailed(listener: (e: { drop: string; runId: number; error: RunError }) => void): () => void {
    this.attemptListeners.add(listener);
    return () => this.attemptListeners.delete(listener);
  }

  /**
   * Adds a drop: checks every field, stores the private key at `<data>/drops/keys/<name>` (mode 0600) and the rest
   * in the database, records the audit entry, and schedules it when enabled and the service is started.
   * Throws ServerError BAD_REQUEST (invalid field), CONFLICT (name taken) or NOT_FOUND (unknown agency).
   */
  async create(input: DropInput, actor: DropActor): Promise<Drop> {
    const d = this.validate(input);
    if (await this.drops((r) => r.getDrop(d.name))) {
      throw new ServerError("CONFLICT", `A drop named "${d.name}" already exists.`, {
        hint: "Pick another name, or disable the old drop first.",
      });
    }
    const agency = await this.opts.db.read((uow) => uow.registry.agency(d.agency));
    if (!agency) throw new ServerError("NOT_FOUND", `No agency with code "${d.agency}" is registered.`);
    checkPrivateKey(input.privateKey);
    const key = await stageDropKey(this.opts.dataDir, d.name, input.privateKey);
    let drop: Drop;
    try {
      drop = await this.opts.db.tx(async (uow) => {
        const created = await uow.drops.insertDrop({ ...d, createdBy: actor.staffId });
        await this.audit(uow, {
          actor: actor.staffId,
          role: "ops",
          agency: actor.agency,
          action: "drop.create",
          source: actor.source ?? null,
          detail: {
            drop: created.name,
            agency: created.agency,
            direction: created.direction,
            endpoint: `${created.username}@${created.host}:${created.port}${created.remoteDir}`,
            hostKeySha256: created.hostKeySha256,
            schedule: created.schedule,
          },
        });
        return created;
      });
    } catch (e) {
      await key.discard();
      if (isUniqueViolation(e)) {
        throw new ServerError("CONFLICT", `A drop named "${d.name}" already exists.`);
      }
      throw e;
    }
    await key.commit();
    if (drop.enabled && this.started) this.schedule(drop);
    return drop;
  }

  private validate(
    i: DropInput,
  ): Omit<Drop, "health" | "consecutiveFailures" | "createdAt" | "updatedAt" | "createdBy"> {
    const bad = (msg: string, hint?: string) => new ServerError("BAD_REQUEST", msg, hint ? { hint } : {});
    if (typeof i !== "object" || i === null) throw bad("The drop must be a JSON object.");
    const str = (v: unknown, field: string, max = 500): string => {
      if (typeof v !== "string" || v.trim() === "" || v.length > max)
        throw bad(`"${field}" must be a non-empty string.`);
      return v.trim();
    };
    const name = str(i.name, "name", 64);
    if (!NAME_RE.test(name)) {
      throw bad(
        "A drop name uses lower-case letters, digits, '.', '_' and '-' (up to 64, starting with a letter or digit).",
      );
    }
    if (i.direction !== "pull" && i.direction !== "push") throw bad('"direction" must be "pull" or "push".');
    const port = i.port ?? 22;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('"port" must be a TCP port number (1-65535).');
    const host = str(i.host, "host", 253);
    if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw bad('"host" must be a host name or IP address.');
    const remoteDir = str(i.remoteDir, "remoteDir", 1024).replace(/\/+$/, "") || "/";
    if (!remoteDir.startsWith("/") || remoteDir.split("/").includes("..")) {
      throw bad('"remoteDir" must be an absolute folder path on the SFTP server, without "..".');
    }
    const hostKeySha256 = str(i.hostKeySha256, "hostKeySha256", 100);
    if (!isHostKeyFingerprint(hostKeySha256)) {
      throw bad(
        '"hostKeySha256" must be the host key fingerprint as OpenSSH prints it, "SHA256:" followed by 43 base64 characters.',
        "Ask the agency for the output of `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` and check it by phone.",
      );
    }
    const schedule = str(i.schedule, "schedule", 200);
    try {
      new Cron(schedule, { paused: true }).stop();
    } catch (e) {
      throw bad(
        `"schedule" is not a valid cron expression: ${describe(e)}`,
        'Example: "*/15 * * * *" (every 15 minutes).',
      );
    }
    const completion = i.completion ?? "sidecar";
    if (completion !== "sidecar" && completion !== "marker") throw bad('"completion" must be "sidecar" or "marker".');
    const maxAttempts = i.maxAttempts ?? 3;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20)
      throw bad('"maxAttempts" must be 1 to 20.');
    const retryBaseMs = i.retryBaseMs ?? 5000;
    if (!Number.isInteger(retryBaseMs) || retryBaseMs < 0 || retryBaseMs > 3_600_000) {
      throw bad('"retryBaseMs" must be 0 to 3600000 milliseconds.');
    }
    const notifyEmails = i.notifyEmails ?? [];
    if (
      !Array.isArray(notifyEmails) ||
      notifyEmails.some((e) => typeof e !== "string" || !/^[^\s@]+@[^\s@]+$/.test(e))
    ) {
      throw bad('"notifyEmails" must be a list of e-mail addresses.');
    }
    if (typeof i.privateKey !== "string") throw bad('"privateKey" must be the SSH private key text.');
    return {
      name,
      agency: str(i.agency, "agency", 64),
      direction: i.direction,
      host,
      port,
      username: str(i.username, "username", 100),
      remoteDir,
      hostKeySha256,
      schedule,
      completion,
      enabled: i.enabled ?? true,
      maxAttempts,
      retryBaseMs,
      notifyEmails,
    };
  }

  /** Runs `fn` on the drops repository in a transaction of its own. */
  drops<T>(fn: (r: DropRepository) => Promise<T>): Promise<T> {
    return this.opts.db.tx((uow) => fn(uow.drops));
  }

  list(): Promise<Drop[]> {
    return this.drops((r) => r.listDrops());
  }

  /** Throws ServerError NOT_FOUND for an unknown name. */
  async get(name: string): Promise<Drop> {
    const d = await this.drops((r) => r.getDrop(name));
    if (!d)
      throw new ServerError("NOT_FOUND", `No drop named "${name}".`, { hint: "List drops with `sealpost drop list`." });
    return d;
  }

  /** Runs of a drop, newest first (default 50, at most 500). */
  async history(name: string, limit = 50): Promise<DropRun[]> {
    await this.get(name);
    return this.drops((r) => r.listRuns(name, Math.max(1, Math.min(500, limit))));
  }

  /** Disables a drop: no more scheduled runs (a run in progress finishes). Idempotent. */
  async disable(name: string, actor: DropActor): Promise<Drop> {
    const d = await this.get(name);
    this.crons.get(name)?.stop();
    this.crons.delete(name);
    if (!d.enabled) return d;
    await this.opts.db.tx(async (uow) => {
      await uow.drops.setEnabled(name, false);
      await this.audit(uow, {
        actor: actor.staffId,
        role: "ops",
        agency: actor.agency,
        action: "drop.disable",
        source: actor.source ?? null,
        detail: { drop: name },
      });
    });
    return this.get(name);
  }

  /** Enables a drop again and schedules it (when the service is started). Idempotent. */
  async enable(name: string, actor: DropActor): Promise<Drop> {
    const d = await this.get(name);
    if (!d.enabled) {
      await this.opts.db.tx(async (uow) => {
        await uow.drops.setEnabled(name, true);
        await this.audit(uow, {
          actor: actor.staffId,
          role: "ops",
          agency: actor.agency,
          action: "drop.enable",
          source: actor.source ?? null,
          detail: { drop: name },
        });
      });
    }
    const now = await this.get(name);
    if (this.started && !this.crons.has(name)) this.schedule(now);
    return now;
  }

  private started = false;

  /** Marks runs left running by dead processes as aborted and schedules every enabled drop. */
  async start(): Promise<void> {
    this.started = true;
    this.stopping = false;
    await this.opts.db.tx(async (uow) => {
      for (const r of await uow.drops.runningRuns()) await this.abortIfStale(r, uow);
    });
    for (const d of await this.list()) if (d.enabled && this.started) this.schedule(d);
  }

  /**
   * Stops scheduling (the drops job moved to another instance); runs in progress go on to their end under their
   * own leases, and manual runs stay possible.
   */
  async pauseSchedules(): Promise<void> {
    this.started = false;
    for (const c of this.crons.values()) c.stop();
    this.crons.clear();
  }

  /** Stops scheduling, cuts retry waits short and waits for runs in progress to end (at most stopTimeoutMs). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    for (const c of this.crons.values()) c.stop();
    this.crons.clear();
    for (const wake of this.sleeping) wake();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      Promise.allSettled([...this.running.values()]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.opts.stopTimeoutMs ?? 60_000);
      }),
    ]);
    clearTimeout(timer);
    if (late) this.log.warn("drops: runs still in progress when stopping", { drops: [...this.running.keys()] });
  }

  private schedule(d: Drop): void {
    this.crons.get(d.name)?.stop();
    const job = new Cron(d.schedule, { name: `drop:${d.name}:${this.instance}`, catch: false }, () => {
      if (this.running.has(d.name)) {
        this.log.info("drop run skipped: previous run still in progress", { drop: d.name });
        return;
      }
      this.runNow(d.name, "schedule").then(
        ({ done }) => done.catch((e) => this.log.error("drop run crashed", { drop: d.name, error: describe(e) })),
        (e) => this.log.info("drop run not started", { drop: d.name, error: describe(e) }),
      );
    });
    this.crons.set(d.name, job);
  }

  private get runLeaseMs(): number {
    return this.opts.runLeaseMs ?? 30_000;
  }

  /**
   * Marks `r` (a running row) aborted when no live run owns it: its instance no longer holds the run's lease
   * `drop:<name>` (killed, or stopped without finishing). True when it was aborted.
   */
  private async abortIfStale(
    r: { id: number; drop: string; ownerInstance: string },
    uow: UnitOfWork,
  ): Promise<boolean> {
    if (r.ownerInstance === this.instance && this.running.has(r.drop)) return false;
    const lease = await uow.leases.get(`drop:${r.drop}`);
    if (lease && lease.owner === r.ownerInstance && lease.expiresAt > this.now().toISOString()) return false;
    await uow.drops.abortRun(r.id, "The server instance that ran it ended before the run finished.");
    this.log.warn("stale drop run marked aborted", { runId: r.id });
    return true;
  }

  /**
   * Starts a run now. Returns the run row (status "running") and a promise of the finished run (never rejects for
   * transfer failures: they are in the run's status and errors). Throws DropError RUN_IN_PROGRESS when a run of
   * this drop is in progress here or in another live process, ServerError NOT_FOUND for an unknown drop.
   */
  async runNow(
    name: string,
    trigger: "schedule" | "manual" = "manual",
  ): Promise<{ run: DropRun; done: Promise<DropRun> }> {
    if (this.running.has(name)) throw this.busy(name);
    // Taken at once, before any await: a second call in this process sees it.
    let release!: (r: DropRun) => void;
    let fail!: (e: unknown) => void;
    const placeholder = new Promise<DropRun>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    placeholder.catch(() => {});
    this.running.set(name, placeholder);
    let run: DropRun;
    let drop: Drop;
    try {
      drop = await this.get(name);
      // One run of a drop at a time on every instance: the run's lease, taken in the transaction that records the
      // run. Holding it, any row still "running" belongs to an instance that lost it: stale.
      run = await this.opts.db.tx(async (uow) => {
        if (!(await uow.leases.acquire(`drop:${name}`, this.instance, this.now(), this.runLeaseMs))) {
          throw this.busy(name);
        }
        for (const r of await uow.drops.runningRuns(name)) {
          await uow.drops.abortRun(r.id, "The server instance that ran it ended before the run finished.");
          this.log.warn("stale drop run marked aborted", { runId: r.id });
        }
        return uow.drops.startRun(name, trigger, this.instance);
      });
    } catch (e) {
      this.running.delete(name);
      fail(e);
      throw e;
    }
    // Renewed while the run lasts, given back when it ends.
    const renew = setInterval(() => {
      this.opts.db
        .tx((uow) => uow.leases.acquire(`drop:${name}`, this.instance, this.now(), this.runLeaseMs))
        .then((held) => {
          if (!held) this.log.error("drop run lost its lease to another instance", { drop: name, runId: run.id });
        })
        .catch((e) => this.log.error("drop run lease not renewed", { drop: name, error: describe(e) }));
    }, this.runLeaseMs / 3);
    renew.unref();
    const done = this.execute(drop, run).finally(async () => {
      clearInterval(renew);
      await this.opts.db
        .tx((uow) => uow.leases.release(`drop:${name}`, this.instance))
        .catch((e) => this.log.error("drop run lease not given back", { drop: name, error: describe(e) }));
      this.running.delete(name);
    });
    done.then(release, fail);
    this.running.set(name, done);
    return { run, done };
  }

  private busy(name: string): DropError {
    return new DropError("RUN_IN_PROGRESS", `A run of drop "${name}" is already in progress.`, {
      hint: "Wait for it to end; see `sealpost drop history`.",
    });
  }

  private async execute(drop: Drop, run: DropRun): Promise<DropRun> {
    const progress: RunProgress = { files: 0, bytes: 0, errors: [] };
    let attempt = 0;
    let ok = false;
    /** Cut short by stop() while retries remained: recorded as aborted, the drop's health untouched. */
    let interrupted = false;
    this.log.info("drop run started", { drop: drop.name, runId: run.id, trigger: run.trigger });
    for (;;) {
      attempt += 1;
      await this.drops((r) => r.updateRun(run.id, { attempts: attempt, ...progress }));
      try {
        await this.attempt(drop, run.id, progress);
        ok = true;
        break;
      } catch (e) {
        const error: RunError = {
          at: this.now().toISOString(),
          code: isSealpostError(e) ? e.code : "INTERNAL",
          message: describe(e),
          attempt,
        };
        progress.errors.push(error);
        await this.drops((r) => r.updateRun(run.id, { attempts: attempt, ...progress }));
        this.log.warn("drop run attempt failed", {
          drop: drop.name,
          runId: run.id,
          attempt,
          code: error.code,
          error: error.message,
        });
        for (const l of this.attemptListeners) this.safely(() => l({ drop: drop.name, runId: run.id, error }));
        const retryable = !(e instanceof DropError) || e.retryable;
        if (!retryable || attempt >= drop.maxAttempts) break;
        const wait = Math.min(drop.retryBaseMs * 2 ** (attempt - 1), this.opts.maxBackoffMs ?? 600_000);
        if (!this.stopping) await this.sleep(wait);
        if (this.stopping) {
          interrupted = true;
          break;
        }
      }
    }
    if (interrupted) {
      await this.drops(async (r) => {
        await r.updateRun(run.id, { attempts: attempt, ...progress });
        await r.abortRun(run.id, "The server stopped before the run could try again.");
      });
      this.log.warn("drop run aborted by shutdown", { drop: drop.name, runId: run.id, attempts: attempt });
      return (await this.drops((r) => r.getRun(run.id)))!;
    }
    const finished = await this.opts.db.tx(async (uow) => {
      await uow.drops.updateRun(run.id, { attempts: attempt, ...progress });
      // A run that refused files (each error naming its file) took the rest: partial, which counts as healthy.
      const refused = progress.errors.some((e) => e.file !== undefined);
      const done = await uow.drops.finishRun(run.id, ok ? (refused ? "partial" : "ok") : "failed");
      const health = await uow.drops.recordHealth(drop.name, ok);
      if (!ok) {
        await this.audit(uow, {
          actor: `drop:${drop.name}`,
          role: "system",
          agency: drop.agency,
          action: "drop.run.failed",
          source: drop.host,
          detail: {
            drop: drop.name,
            runId: run.id,
            attempts: attempt,
            lastError: progress.errors.at(-1)?.message ?? "",
          },
        });
      }
      if (!ok && health.before === "ok") {
        const lastOk = await uow.drops.lastOkAt(drop.name);
        await (this.opts.notifyFailing ?? mailDropFailing)(uow, {
          drop: (await uow.drops.getDrop(drop.name))!,
          run: done,
          consecutiveFailures: health.failures,
          lastError: progress.errors.at(-1)?.message ?? "",
          lastSuccessAt: lastOk,
        });
      }
      return done;
    });
    this.log.info("drop run ended", {
      drop: drop.name,
      runId: run.id,
      status: finished.status,
      attempts: attempt,
      files: finished.files,
      bytes: finished.bytes,
    });
    return finished;
  }

  private async attempt(drop: Drop, runId: number, progress: RunProgress): Promise<void> {
    const key = await readDropKey(this.opts.dataDir, drop.name);
    const session = await SftpSession.open(
      { host: drop.host, port: drop.port, username: drop.username, hostKeySha256: drop.hostKeySha256 },
      key,
      this.opts.sftp,
    );
    const tmpDir = path.join(this.opts.dataDir, "drops", "tmp");
    const ctx: RunContext = {
      drop,
      runId,
      session,
      db: this.opts.db,
      drops: (fn) => this.drops(fn),
      sink: this.opts.payloads,
      deliveries: this.opts.deliveries,
      newTempPath:
        this.opts.tempPath ??
        (() => {
          mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
          return path.join(tmpDir, `pull-${randomBytes(12).toString("hex")}.p7m`);
        }),
      inspect: this.opts.inspect ?? inspectSealedFile,
      audit: (uow, entry) => this.audit(uow, entry),
      progress,
      emit: (e) => {
        void this.drops((r) =>
          r.updateRun(runId, { files: progress.files, bytes: progress.bytes, errors: progress.errors }),
        ).catch((err) => this.log.error("drop run progress not saved", { runId, error: describe(err) }));
        for (const l of this.fileListeners) this.safely(() => l(e));
      },
      log: this.log,
      maxFileBytes: this.opts.maxFileBytes ?? 10 * 1024 ** 3,
      maxListEntries: this.opts.maxListEntries ?? 10_000,
      now: this.now,
    };
    try {
      if (drop.direction === "pull") await pullOnce(ctx);
      else await pushOnce(ctx);
    } finally {
      await session.close();
    }
  }

  /** Runs a listener; a throwing listener is logged and never breaks a run. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error("drop event listener failed", { error: describe(e) });
    }
  }

  private async audit(uow: UnitOfWork, entry: AuditEntryInput): Promise<void> {
    if (this.opts.audit) await this.opts.audit(uow, entry);
    else await uow.audit.append(entry, this.now());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping.add(wake);
    });
  }
}

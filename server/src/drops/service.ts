import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { isSealpostError } from "@sealpost/protocol";
import type Database from "better-sqlite3";
import { Cron } from "croner";
import { type AuditEntryInput, appendAudit } from "../audit/log.js";
import { ServerError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { enqueueMail } from "../mail/outbox.js";
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
import { DropStore } from "./store.js";
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
  db: Database.Database;
  /** The server's data folder: keys live in `<data>/drops/keys/`, pull temp files in `<data>/drops/tmp/`. */
  dataDir: string;
  /** Registers pulled files as case payloads (server-core's upload rules). */
  payloads: PayloadSink;
  /** Sealed files waiting for push drops (default wiring: coreDeliverySource). */
  deliveries: DeliverySource;
  log?: Logger;
  /** Audit writer, called inside the transaction of the change. Default: appendAudit (server/src/audit/log.ts). */
  audit?: (db: Database.Database, entry: AuditEntryInput) => void;
  /**
   * Called inside the transaction that marks a drop failing. Default: enqueueMail of renderDropFailingMail to the
   * drop's notifyEmails plus every active ops staff member's e-mail.
   */
  notifyFailing?: (db: Database.Database, notice: DropFailingNotice) => void;
  /** Fresh temp paths for pulled files; should be on the file store's file system. Default `<data>/drops/tmp/`. */
  tempPath?: () => string;
  /** Envelope check of a pulled file. Default: inspectSealedFile (@sealpost/cms inspect). */
  inspect?: RunContext["inspect"];
  /** Largest pulled file, bytes. Default 10 GiB. */
  maxFileBytes?: number;
  /** Connection options (timeouts, keepalive). */
  sftp?: SftpOpenOptions;
  /** Longest wait between attempts, ms. Default 600000. */
  maxBackoffMs?: number;
  now?: () => Date;
}

/** Who asks (recorded in the audit log). */
export interface DropActor {
  staffId: string;
  agency: string | null;
  source?: string | null;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Default failing notice: one outbox e-mail to the drop's notify list and every active ops staff member. */
export function mailDropFailing(db: Database.Database, n: DropFailingNotice): void {
  const ops = (
    db.prepare("SELECT email FROM staff WHERE role = 'ops' AND active = 1 ORDER BY email").all() as { email: string }[]
  ).map((r) => r.email);
  const to = [...new Set([...n.drop.notifyEmails, ...ops])];
  if (to.length === 0) return;
  const mail = renderDropFailingMail({
    name: n.drop.name,
    agency: n.drop.agency,
    consecutiveFailures: n.consecutiveFailures,
    lastError: n.lastError,
    lastSuccessAt: n.lastSuccessAt,
  });
  enqueueMail(db, { to, subject: mail.subject, text: mail.text, kind: "drop.failing" });
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
  readonly store: DropStore;
  private readonly log: Logger;
  private readonly instance = randomBytes(8).toString("hex");
  private readonly crons = new Map<string, Cron>();
  private readonly running = new Map<string, Promise<DropRun>>();
  private readonly fileListeners = new Set<(e: DropFileEvent) => void>();
  private readonly attemptListeners = new Set<(e: { drop: string; runId: number; error: RunError }) => void>();
  private readonly sleeping = new Set<() => void>();
  private stopping = false;
  private readonly now: () => Date;

  constructor(private readonly opts: DropServiceOptions) {
    this.now = opts.now ?? (() => new Date());
    this.store = new DropStore(opts.db, this.now);
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
    if (this.store.getDrop(d.name)) {
      throw new ServerError("CONFLICT", `A drop named "${d.name}" already exists.`, {
        hint: "Pick another name, or disable the old drop first.",
      });
    }
    const agency = this.opts.db.prepare("SELECT code FROM agencies WHERE code = ?").get(d.agency);
    if (!agency) throw new ServerError("NOT_FOUND", `No agency with code "${d.agency}" is registered.`);
    checkPrivateKey(input.privateKey);
    const key = await stageDropKey(this.opts.dataDir, d.name, input.privateKey);
    let drop: Drop;
    try {
      drop = this.opts.db.transaction(() => {
        const created = this.store.insertDrop({ ...d, createdBy: actor.staffId });
        this.audit({
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
      })();
    } catch (e) {
      await key.discard();
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
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

  list(): Drop[] {
    return this.store.listDrops();
  }

  /** Throws ServerError NOT_FOUND for an unknown name. */
  get(name: string): Drop {
    const d = this.store.getDrop(name);
    if (!d)
      throw new ServerError("NOT_FOUND", `No drop named "${name}".`, { hint: "List drops with `sealpost drop list`." });
    return d;
  }

  /** Runs of a drop, newest first (default 50, at most 500). */
  history(name: string, limit = 50): DropRun[] {
    this.get(name);
    return this.store.listRuns(name, Math.max(1, Math.min(500, limit)));
  }

  /** Disables a drop: no more scheduled runs (a run in progress finishes). Idempotent. */
  disable(name: string, actor: DropActor): Drop {
    const d = this.get(name);
    this.crons.get(name)?.stop();
    this.crons.delete(name);
    if (!d.enabled) return d;
    this.opts.db.transaction(() => {
      this.store.setEnabled(name, false);
      this.audit({
        actor: actor.staffId,
        role: "ops",
        agency: actor.agency,
        action: "drop.disable",
        source: actor.source ?? null,
        detail: { drop: name },
      });
    })();
    return this.get(name);
  }

  /** Enables a drop again and schedules it (when the service is started). Idempotent. */
  enable(name: string, actor: DropActor): Drop {
    const d = this.get(name);
    if (!d.enabled) {
      this.opts.db.transaction(() => {
        this.store.setEnabled(name, true);
        this.audit({
          actor: actor.staffId,
          role: "ops",
          agency: actor.agency,
          action: "drop.enable",
          source: actor.source ?? null,
          detail: { drop: name },
        });
      })();
    }
    const now = this.get(name);
    if (this.started && !this.crons.has(name)) this.schedule(now);
    return now;
  }

  private started = false;

  /** Marks runs left running by dead processes as aborted and schedules every enabled drop. */
  start(): void {
    this.started = true;
    this.stopping = false;
    for (const r of this.store.runningRuns()) this.abortIfStale(r);
    for (const d of this.store.listDrops()) if (d.enabled) this.schedule(d);
  }

  /** Stops scheduling, cuts retry waits short and waits for runs in progress to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    for (const c of this.crons.values()) c.stop();
    this.crons.clear();
    for (const wake of this.sleeping) wake();
    await Promise.allSettled([...this.running.values()]);
  }

  private schedule(d: Drop): void {
    this.crons.get(d.name)?.stop();
    const job = new Cron(d.schedule, { name: `drop:${d.name}:${this.instance}`, catch: false }, () => {
      if (this.running.has(d.name)) {
        this.log.info("drop run skipped: previous run still in progress", { drop: d.name });
        return;
      }
      try {
        const { done } = this.runNow(d.name, "schedule");
        done.catch((e) => this.log.error("drop run crashed", { drop: d.name, error: describe(e) }));
      } catch (e) {
        this.log.info("drop run not started", { drop: d.name, error: describe(e) });
      }
    });
    this.crons.set(d.name, job);
  }

  /** True when `r` (a running row) belongs to no live run: a dead process, or an earlier life of this process. */
  private abortIfStale(r: { id: number; ownerPid: number; ownerInstance: string }): boolean {
    if (r.ownerInstance === this.instance) return false;
    if (r.ownerPid !== process.pid && pidAlive(r.ownerPid)) return false;
    this.store.abortRun(r.id, "The server process that ran it ended before the run finished.");
    this.log.warn("stale drop run marked aborted", { runId: r.id });
    return true;
  }

  /**
   * Starts a run now. Returns the run row (status "running") and a promise of the finished run (never rejects for
   * transfer failures: they are in the run's status and errors). Throws DropError RUN_IN_PROGRESS when a run of
   * this drop is in progress here or in another live process, ServerError NOT_FOUND for an unknown drop.
   */
  runNow(name: string, trigger: "schedule" | "manual" = "manual"): { run: DropRun; done: Promise<DropRun> } {
    const drop = this.get(name);
    const busy = () =>
      new DropError("RUN_IN_PROGRESS", `A run of drop "${name}" is already in progress.`, {
        hint: "Wait for it to end; see `sealpost drop history`.",
      });
    if (this.running.has(name)) throw busy();
    const run = this.opts.db.transaction(() => {
      for (const r of this.store.runningRuns(name)) if (!this.abortIfStale(r)) throw busy();
      return this.store.startRun(name, trigger, this.instance);
    })();
    const done = this.execute(drop, run).finally(() => this.running.delete(name));
    this.running.set(name, done);
    return { run, done };
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
      this.store.updateRun(run.id, { attempts: attempt, ...progress });
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
        this.store.updateRun(run.id, { attempts: attempt, ...progress });
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
      this.store.updateRun(run.id, { attempts: attempt, ...progress });
      this.store.abortRun(run.id, "The server stopped before the run could try again.");
      this.log.warn("drop run aborted by shutdown", { drop: drop.name, runId: run.id, attempts: attempt });
      return this.store.getRun(run.id)!;
    }
    const finished = this.opts.db.transaction(() => {
      this.store.updateRun(run.id, { attempts: attempt, ...progress });
      const done = this.store.finishRun(run.id, ok ? "ok" : "failed");
      const health = this.store.recordHealth(drop.name, ok);
      if (!ok) {
        this.audit({
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
        const lastOk = this.opts.db
          .prepare("SELECT MAX(ended_at) AS t FROM drop_runs WHERE drop_name = ? AND status = 'ok'")
          .get(drop.name) as { t: string | null };
        (this.opts.notifyFailing ?? mailDropFailing)(this.opts.db, {
          drop: this.store.getDrop(drop.name)!,
          run: done,
          consecutiveFailures: health.failures,
          lastError: progress.errors.at(-1)?.message ?? "",
          lastSuccessAt: lastOk.t,
        });
      }
      return done;
    })();
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
      store: this.store,
      sink: this.opts.payloads,
      deliveries: this.opts.deliveries,
      newTempPath:
        this.opts.tempPath ??
        (() => {
          mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
          return path.join(tmpDir, `pull-${randomBytes(12).toString("hex")}.p7m`);
        }),
      inspect: this.opts.inspect ?? inspectSealedFile,
      audit: (entry) => this.audit(entry),
      progress,
      emit: (e) => {
        this.store.updateRun(runId, { files: progress.files, bytes: progress.bytes, errors: progress.errors });
        for (const l of this.fileListeners) this.safely(() => l(e));
      },
      log: this.log,
      maxFileBytes: this.opts.maxFileBytes ?? 10 * 1024 ** 3,
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

  private audit(entry: AuditEntryInput): void {
    (this.opts.audit ?? appendAudit)(this.opts.db, entry);
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

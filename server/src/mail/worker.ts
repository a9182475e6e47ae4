import nodemailer from "nodemailer";
import type { AuditEntryInput } from "../audit/log.js";
import type { Db } from "../db/db.js";
import type { UnitOfWork } from "../db/uow.js";
import type { Logger } from "../log.js";
import { backoffDelayMs } from "./backoff.js";
import { MailError } from "./errors.js";
import type { OutboxEntry } from "./outbox.js";

/** The audit record the worker writes for each outcome (server-core's AuditEntryInput). */
export type MailAuditEntry = AuditEntryInput;

/** How to reach the SMTP server (the `smtp` block of config.json). */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465). Default false: plain connection upgraded by STARTTLS when offered. */
  secure?: boolean;
  /** The From address, e.g. `"sealpost 通知 <sealpost@example.gov.tw>"`. */
  from: string;
  auth?: { user: string; pass: string };
  /** Never use STARTTLS even when offered (test servers only). Default false. */
  ignoreTLS?: boolean;
  /** Refuse to send unless STARTTLS succeeds. Default false. */
  requireTLS?: boolean;
  /**
   * PEM certificates of the CA(s) that issued the SMTP server's TLS certificate, when it is not publicly trusted
   * (a government-internal CA). Default: the system's trusted CAs only. The certificate is always verified.
   */
  ca?: string;
  /** Connection, greeting and socket timeout. Default 30 000 ms. */
  timeoutMs?: number;
}

/** Settings of the mail worker. */
export interface MailWorkerConfig {
  smtp: SmtpSettings;
  /** Pause between passes over the queue. Default 15 000 ms; 0 starts no timer (call drainOnce yourself). */
  pollMs?: number;
  /** Attempts before a notice is marked failed. Default 8. */
  maxAttempts?: number;
  /** Wait after the first failed attempt; doubles each attempt, with jitter. Default 60 000 ms. Minimum 1. */
  backoffBaseMs?: number;
  /** Cap of the wait between attempts. Default 6 hours. */
  backoffMaxMs?: number;
  /** Most notices sent in one pass. Default 100. */
  batchLimit?: number;
  /** Clock. Default `() => new Date()`. Tests drive time through it. */
  now?: () => Date;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
}

/** Optional callbacks of the worker. */
export interface MailWorkerHooks {
  /**
   * Writes an audit entry. Called inside the transaction that records the outcome of an attempt (sent, attempt
   * failed, failed for good, interrupted send reclaimed), with that transaction's unit of work.
   * Default: `uow.audit.append(entry, now)` (the hash-chained audit log).
   */
  audit?(entry: MailAuditEntry, uow: UnitOfWork): void | Promise<void>;
  /** Told when a notice is marked failed for good (after the audit entry and the error log line). */
  onFailure?(entry: OutboxEntry): void;
}

/** A running mail worker. */
export interface MailWorker {
  /** Resolves once the notices left "sending" by an earlier run are reclaimed (the first thing the worker does). */
  started: Promise<void>;
  /** Stops the timer, waits for the pass in progress (bounded by the SMTP timeouts) and closes the transport. */
  stop(): Promise<void>;
  /**
   * Sends every notice due now (up to batchLimit), one at a time, and resolves with how many were delivered.
   * Passes never overlap: a call made during a pass runs after it.
   */
  drainOnce(): Promise<number>;
}

interface SmtpFailure {
  message: string;
  code?: string;
  command?: string;
  responseCode?: number;
  permanent?: boolean;
}

function describe(err: unknown): SmtpFailure {
  if (err && typeof err === "object") {
    const e = err as Partial<SmtpFailure>;
    return {
      message: typeof e.message === "string" ? e.message : String(err),
      code: e.code,
      command: e.command,
      responseCode: e.responseCode,
      permanent: e.permanent,
    };
  }
  return { message: String(err) };
}

/**
 * A recipient or message refused with a 5xx reply will be refused again: no point retrying. Connection, TLS,
 * authentication and sender (MAIL FROM) failures are usually configuration or outages, so they are retried.
 */
function isPermanent(f: SmtpFailure): boolean {
  return f.permanent === true && (f.command === "RCPT TO" || f.command === "DATA" || f.code === "EMESSAGE");
}

function messageIdDomain(from: string): string {
  const m = /@([^\s>]+)>?\s*$/.exec(from);
  return m?.[1] ?? "sealpost.invalid";
}

function checkConfig(config: MailWorkerConfig): void {
  const { smtp } = config;
  const bad = (what: string) =>
    new MailError("BAD_CONFIG", `The mail settings are not usable: ${what}.`, {
      hint: "Correct the smtp block of config.json and restart the server.",
    });
  if (!smtp?.host) throw bad("smtp.host is missing");
  if (!Number.isInteger(smtp.port) || smtp.port < 1 || smtp.port > 65535) throw bad("smtp.port is out of range");
  if (!smtp.from) throw bad("smtp.from is missing");
  if (config.backoffBaseMs !== undefined && !(config.backoffBaseMs >= 1)) throw bad("backoffBaseMs must be >= 1");
  if (config.maxAttempts !== undefined && !(config.maxAttempts >= 1)) throw bad("maxAttempts must be >= 1");
}

/**
 * Starts the outbox worker: first reclaims notices left in "sending" by a crash (each counts as one attempt, and
 * may have been delivered once already: delivery is at-least-once, and every attempt of a notice carries the same
 * Message-ID so mail clients can collapse a duplicate), then sends due notices through SMTP every `pollMs`.
 *
 * Each failed attempt adds 1 to `attempts`, logs a warning and writes an audit entry "mail.attempt_failed"; the
 * notice is retried after an exponential, jittered delay (see backoff.ts) until `maxAttempts`, or at once marked
 * failed when the server refuses it permanently (5xx to RCPT TO or DATA). A notice failed for good is logged as
 * an error, audited as "mail.failed", reported to `hooks.onFailure` and shown by `mailStatus`. Delivery is
 * audited as "mail.sent". Bodies and passwords are never logged.
 *
 * Throws MailError BAD_CONFIG when the settings are unusable.
 */
export function startMailWorker(
  db: Db,
  config: MailWorkerConfig,
  log: Logger,
  hooks: MailWorkerHooks = {},
): MailWorker {
  checkConfig(config);
  const clock = config.now ?? (() => new Date());
  const random = config.random ?? Math.random;
  const maxAttempts = config.maxAttempts ?? 8;
  const policy = { baseMs: config.backoffBaseMs ?? 60_000, maxMs: config.backoffMaxMs ?? 6 * 3600_000 };
  const batchLimit = config.batchLimit ?? 100;
  const pollMs = config.pollMs ?? 15_000;
  const timeout = config.smtp.timeoutMs ?? 30_000;
  const domain = messageIdDomain(config.smtp.from);
  const audit =
    hooks.audit ??
    (async (entry: MailAuditEntry, uow: UnitOfWork) => {
      await uow.audit.append(entry, clock());
    });

  // One pooled connection, reused across notices (a new SMTP session per notice costs ~100 ms even on loopback);
  // the pool reconnects by itself after the server drops it.
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 1,
    host: config.smtp.host,
    port: config.smtp.port,
    secure: config.smtp.secure ?? false,
    auth: config.smtp.auth,
    ignoreTLS: config.smtp.ignoreTLS ?? false,
    requireTLS: config.smtp.requireTLS ?? false,
    ...(config.smtp.ca ? { tls: { ca: config.smtp.ca } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });

  /** Runs `change` and its audit entry in one transaction; an audit failure is logged, never lets the row hang. */
  async function record(what: string, change: (uow: UnitOfWork) => Promise<void>, entry: MailAuditEntry) {
    try {
      await db.tx(async (uow) => {
        await change(uow);
        await audit(entry, uow);
      });
    } catch (err) {
      log.error("mail: could not write the audit entry; recording the outcome without it", {
        action: entry.action,
        what,
        error: describe(err).message,
      });
      await db.tx(change);
    }
  }

  function auditEntry(action: string, entry: OutboxEntry, detail: Record<string, unknown>): MailAuditEntry {
    return {
      actor: "system",
      role: null,
      agency: null,
      action,
      caseId: entry.caseId,
      detail: { mailId: entry.id, kind: entry.kind, ...detail },
    };
  }

  async function failAttempt(entry: OutboxEntry, error: string, permanent: boolean): Promise<void> {
    const now = clock();
    const attempts = entry.attempts + 1;
    const final = permanent || attempts >= maxAttempts;
    const retryAt = final ? null : new Date(now.getTime() + backoffDelayMs(attempts, policy, random));
    let updated: OutboxEntry | undefined;
    await record(
      "attempt failed",
      async (uow) => {
        updated = await uow.mail.markAttemptFailed(entry.id, { error, now, retryAt });
      },
      auditEntry(final ? "mail.failed" : "mail.attempt_failed", entry, {
        attempts,
        error,
        permanent,
        nextAttemptAt: retryAt?.toISOString() ?? null,
      }),
    );
    const fields = { mailId: entry.id, kind: entry.kind, caseId: entry.caseId, attempts, error };
    if (!final) {
      log.warn("mail: delivery attempt failed; will retry", { ...fields, nextAttemptAt: retryAt?.toISOString() });
      return;
    }
    log.error(
      permanent
        ? "mail: the mail server refused the notice permanently; marked failed"
        : `mail: notice not delivered after ${attempts} attempts; marked failed`,
      fields,
    );
    if (updated && hooks.onFailure) {
      try {
        hooks.onFailure(updated);
      } catch (err) {
        log.error("mail: onFailure hook threw", { mailId: entry.id, error: describe(err).message });
      }
    }
  }

  /**
   * One delivery attempt. Only the SMTP exchange counts as the attempt: if recording the success fails (database
   * error), that error propagates and the row stays "sending" until the next start reclaims it (at-least-once).
   */
  async function sendOne(entry: OutboxEntry): Promise<boolean> {
    let info: { accepted?: unknown[]; rejected?: unknown[] };
    try {
      info = await transport.sendMail({
        from: config.smtp.from,
        to: entry.recipients,
        subject: entry.subject,
        text: entry.body,
        messageId: `<sealpost-mail-${entry.id}.${entry.createdAt.replace(/[^0-9]/g, "")}@${domain}>`,
        headers: {
          "X-Sealpost-Kind": entry.kind,
          ...(entry.caseId ? { "X-Sealpost-Case": entry.caseId } : {}),
        },
      });
    } catch (err) {
      const f = describe(err);
      await failAttempt(entry, f.message, isPermanent(f));
      return false;
    }
    const rejected = (info.rejected ?? []).map(String);
    const now = clock();
    await record(
      "sent",
      (uow) => uow.mail.markSent(entry.id, now),
      auditEntry("mail.sent", entry, {
        attempts: entry.attempts + 1,
        accepted: (info.accepted ?? []).map(String),
        rejected,
      }),
    );
    if (rejected.length > 0) {
      log.warn("mail: notice delivered, but the mail server refused some recipients", {
        mailId: entry.id,
        kind: entry.kind,
        caseId: entry.caseId,
        rejected,
      });
    } else {
      log.info("mail: notice delivered", { mailId: entry.id, kind: entry.kind, caseId: entry.caseId });
    }
    return true;
  }

  // Reclaim sends interrupted by a crash: they count as one attempt and go back to the queue, due now.
  async function reclaim(): Promise<void> {
    for (const entry of await db.read((uow) => uow.mail.listInterrupted())) {
      const error = "the server stopped while sending this notice; it may have been delivered once already";
      const now = clock();
      const attempts = entry.attempts + 1;
      if (attempts >= maxAttempts) {
        await failAttempt(entry, error, false);
        continue;
      }
      await record(
        "reclaimed",
        (uow) => uow.mail.requeueInterrupted(entry.id, { error, now }),
        auditEntry("mail.reclaimed", entry, {
          attempts,
        }),
      );
      log.warn("mail: reclaimed a notice interrupted while sending; it will be sent again", {
        mailId: entry.id,
        kind: entry.kind,
        caseId: entry.caseId,
        attempts,
      });
    }
  }

  let stopped = false;
  const started = reclaim();
  let chain: Promise<unknown> = started.catch((err) =>
    log.error("mail: could not reclaim interrupted notices", { error: describe(err).message }),
  );
  let timer: NodeJS.Timeout | undefined;

  async function pass(): Promise<number> {
    let delivered = 0;
    for (let i = 0; i < batchLimit && !stopped; i++) {
      const entry = await db.tx((uow) => uow.mail.claimNextDue(clock()));
      if (!entry) break;
      if (await sendOne(entry)) delivered++;
    }
    return delivered;
  }

  function drainOnce(): Promise<number> {
    const run = chain.then(pass);
    chain = run.catch(() => undefined);
    return run;
  }

  function schedule(): void {
    if (stopped || pollMs <= 0) return;
    timer = setTimeout(() => {
      drainOnce()
        .catch((err) => log.error("mail: outbox pass failed", { error: describe(err).message }))
        .finally(schedule);
    }, pollMs);
    timer.unref();
  }
  if (pollMs > 0) {
    // First pass right away (notices queued while the server was down), then every pollMs.
    drainOnce()
      .catch((err) => log.error("mail: outbox pass failed", { error: describe(err).message }))
      .finally(schedule);
  }

  return {
    started,
    drainOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await chain;
      transport.close();
    },
  };
}

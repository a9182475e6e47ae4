import type Database from "better-sqlite3";
import { MailError } from "./errors.js";

/** States of an outbox row: queued -> sending -> sent, or back to queued after a failure, or failed at the end. */
export type MailState = "queued" | "sending" | "sent" | "failed";

export const MAIL_STATES: readonly MailState[] = ["queued", "sending", "sent", "failed"];

/** A notice to send. */
export interface OutboxMessage {
  /** Recipient addresses (at least one). Every recipient sees the others in To. */
  to: string[];
  /** One line; non-ASCII text is sent as RFC 2047 encoded words. */
  subject: string;
  /** Plain-text UTF-8 body. Never put file content, keys or personal data of citizens here. */
  text: string;
  /** What the notice is about, e.g. "case.new", "case.processed", "drop.failing". */
  kind: string;
  /** The case the notice concerns, recorded with the row and in the audit entries. */
  caseId?: string;
}

/** One outbox row as the module returns it. Times are ISO-8601 UTC strings. */
export interface OutboxEntry {
  id: number;
  createdAt: string;
  kind: string;
  caseId: string | null;
  recipients: string[];
  subject: string;
  body: string;
  state: MailState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  lastAttemptAt: string | null;
  sentAt: string | null;
}

interface OutboxRow {
  id: number;
  created_at: string;
  kind: string;
  case_id: string | null;
  recipients: string;
  subject: string;
  body: string;
  state: MailState;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  last_attempt_at: string | null;
  sent_at: string | null;
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    createdAt: row.created_at,
    kind: row.kind,
    caseId: row.case_id,
    recipients: JSON.parse(row.recipients) as string[],
    subject: row.subject,
    body: row.body,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at,
    sentAt: row.sent_at,
  };
}

// Deliberately simple: one "@", no whitespace, no angle brackets, commas, semicolons or quotes (which would smuggle
// extra recipients or headers). A dotless domain (an intranet host) is allowed, as the staff registry allows it.
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

export function validateNotice(msg: OutboxMessage): string[] {
  if (!Array.isArray(msg.to) || msg.to.length === 0) {
    throw new MailError("NO_RECIPIENTS", "The notice has no recipient.", {
      hint: "Register an e-mail address for the staff who should receive notices.",
    });
  }
  const to = msg.to.map((a) => a.trim());
  for (const address of to) {
    if (!ADDRESS.test(address)) {
      throw new MailError("BAD_RECIPIENT", `"${address}" is not a usable e-mail address.`, {
        hint: "Correct the staff member's registered e-mail address.",
        details: { address },
      });
    }
  }
  if (!msg.kind || !msg.subject || /[\r\n]/.test(msg.subject)) {
    throw new MailError("BAD_MESSAGE", "A notice needs a kind and a one-line subject.");
  }
  return [...new Set(to)];
}

/**
 * Queues a notice. Only inserts one row (state "queued", due immediately), so it is safe to call inside the
 * caller's transaction: the notice exists exactly when the change it announces is committed. The mail worker
 * sends it later. Duplicate addresses are merged. Throws MailError (NO_RECIPIENTS, BAD_RECIPIENT, BAD_MESSAGE).
 *
 * @param now defaults to the current time.
 * @returns the outbox row id.
 */
export function enqueueMail(db: Database.Database, msg: OutboxMessage, now: Date = new Date()): number {
  const recipients = validateNotice(msg);
  const at = now.toISOString();
  const info = db
    .prepare(
      `INSERT INTO mail_outbox (created_at, kind, case_id, recipients, subject, body, state, attempts, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?)`,
    )
    .run(at, msg.kind, msg.caseId ?? null, JSON.stringify(recipients), msg.subject, msg.text, at);
  return Number(info.lastInsertRowid);
}

/** One row by id, or undefined. */
export function getOutboxEntry(db: Database.Database, id: number): OutboxEntry | undefined {
  const row = db.prepare("SELECT * FROM mail_outbox WHERE id = ?").get(id) as OutboxRow | undefined;
  return row && toEntry(row);
}

/**
 * Atomically moves the oldest due queued row (next_attempt_at <= now) to "sending" and returns it; undefined when
 * nothing is due. One statement, so two workers can never claim the same row.
 */
export function claimNextDue(db: Database.Database, now: Date): OutboxEntry | undefined {
  const row = db
    .prepare(
      `UPDATE mail_outbox SET state = 'sending'
       WHERE id = (SELECT id FROM mail_outbox WHERE state = 'queued' AND next_attempt_at <= ?
                   ORDER BY next_attempt_at, id LIMIT 1)
       RETURNING *`,
    )
    .get(now.toISOString()) as OutboxRow | undefined;
  return row && toEntry(row);
}

/** Marks a claimed row delivered. */
export function markSent(db: Database.Database, id: number, now: Date): void {
  const at = now.toISOString();
  db.prepare(
    "UPDATE mail_outbox SET state = 'sent', sent_at = ?, last_attempt_at = ? WHERE id = ? AND state = 'sending'",
  ).run(at, at, id);
}

/**
 * Records a failed attempt on a claimed (or interrupted) row: attempts + 1 and, when `retryAt` is given, back to
 * "queued" due at that time; otherwise the row becomes "failed" for good. Returns the updated row (undefined if it no longer exists).
 */
export function markAttemptFailed(
  db: Database.Database,
  id: number,
  failure: { error: string; now: Date; retryAt: Date | null },
): OutboxEntry | undefined {
  const row = db
    .prepare(
      `UPDATE mail_outbox
       SET attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
           state = CASE WHEN ? IS NULL THEN 'failed' ELSE 'queued' END,
           next_attempt_at = COALESCE(?, next_attempt_at)
       WHERE id = ? RETURNING *`,
    )
    .get(
      failure.error.slice(0, 1000),
      failure.now.toISOString(),
      failure.retryAt?.toISOString() ?? null,
      failure.retryAt?.toISOString() ?? null,
      id,
    ) as OutboxRow | undefined;
  return row && toEntry(row);
}

/** Rows left in "sending" (a send interrupted by a crash or kill). */
export function listInterrupted(db: Database.Database): OutboxEntry[] {
  return (db.prepare("SELECT * FROM mail_outbox WHERE state = 'sending' ORDER BY id").all() as OutboxRow[]).map(
    toEntry,
  );
}

/**
 * Puts a row left in "sending" back in the queue, due now, counting the interrupted send as one attempt.
 */
export function requeueInterrupted(db: Database.Database, id: number, info: { error: string; now: Date }): void {
  const at = info.now.toISOString();
  db.prepare(
    `UPDATE mail_outbox SET state = 'queued', attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
       next_attempt_at = ? WHERE id = ? AND state = 'sending'`,
  ).run(info.error, at, at, id);
}

/**
 * Puts failed rows back in the queue (all failed rows, or only `ids`), due now, with their attempt count reset.
 * For an administrator after fixing the SMTP settings or an address. Returns how many rows were requeued.
 */
export function requeueFailedMail(db: Database.Database, ids?: number[], now: Date = new Date()): number {
  const at = now.toISOString();
  const stmt = db.prepare(
    "UPDATE mail_outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE state = 'failed' AND id = ?",
  );
  if (ids) return db.transaction(() => ids.reduce((n, id) => n + stmt.run(at, id).changes, 0))();
  return db
    .prepare("UPDATE mail_outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE state = 'failed'")
    .run(at).changes;
}

/**
 * Deletes delivered notices sent before `before` (their delivery stays in the audit log as "mail.sent"). Queued
 * and failed notices are never deleted. Returns how many rows were deleted.
 */
export function pruneSentMail(db: Database.Database, before: Date): number {
  return db.prepare("DELETE FROM mail_outbox WHERE state = 'sent' AND sent_at < ?").run(before.toISOString()).changes;
}

/** What `sealpost-server status` shows about mail. */
export interface MailStatus {
  /** Rows per state (every state present, 0 when none). */
  counts: Record<MailState, number>;
  /** The longest-waiting queued row, or null when the queue is empty. */
  oldestQueued: {
    id: number;
    kind: string;
    caseId: string | null;
    createdAt: string;
    attempts: number;
    nextAttemptAt: string;
  } | null;
  /** Most recent errors first (queued rows that failed at least once, and failed rows). */
  lastErrors: {
    id: number;
    kind: string;
    caseId: string | null;
    state: MailState;
    attempts: number;
    lastError: string;
    lastAttemptAt: string | null;
  }[];
}

/**
 * Counts by state, the oldest queued notice and the last errors (default at most 5).
 */
export function mailStatus(db: Database.Database, options: { errorLimit?: number } = {}): MailStatus {
  const counts: Record<MailState, number> = { queued: 0, sending: 0, sent: 0, failed: 0 };
  for (const r of db.prepare("SELECT state, COUNT(*) AS n FROM mail_outbox GROUP BY state").all() as {
    state: MailState;
    n: number;
  }[]) {
    counts[r.state] = r.n;
  }
  const oldest = db.prepare("SELECT * FROM mail_outbox WHERE state = 'queued' ORDER BY created_at, id LIMIT 1").get() as
    | OutboxRow
    | undefined;
  const errors = db
    .prepare(
      `SELECT * FROM mail_outbox WHERE last_error IS NOT NULL AND state IN ('queued', 'failed')
       ORDER BY last_attempt_at DESC, id DESC LIMIT ?`,
    )
    .all(options.errorLimit ?? 5) as OutboxRow[];
  return {
    counts,
    oldestQueued: oldest
      ? {
          id: oldest.id,
          kind: oldest.kind,
          caseId: oldest.case_id,
          createdAt: oldest.created_at,
          attempts: oldest.attempts,
          nextAttemptAt: oldest.next_attempt_at,
        }
      : null,
    lastErrors: errors.map((r) => ({
      id: r.id,
      kind: r.kind,
      caseId: r.case_id,
      state: r.state,
      attempts: r.attempts,
      lastError: r.last_error ?? "",
      lastAttemptAt: r.last_attempt_at,
    })),
  };
}

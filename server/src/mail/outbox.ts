import type { Selectable } from "kysely";
import type { Db } from "../db/db.js";
import type { MailOutboxTable } from "../db/schema.js";
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

export function toEntry(row: Selectable<MailOutboxTable>): OutboxEntry {
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

/** Checks a notice and returns its recipients trimmed and merged. Throws MailError. */
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
 * Queues a notice on its own (inside another change, use `uow.mail.enqueue` in that change's transaction). Throws
 * MailError (NO_RECIPIENTS, BAD_RECIPIENT, BAD_MESSAGE). Returns the outbox row id. `now` defaults to the current time.
 */
export function enqueueMail(db: Db, msg: OutboxMessage, now: Date = new Date()): Promise<number> {
  return db.tx((uow) => uow.mail.enqueue(msg, now));
}

/** One row by id, or undefined. */
export function getOutboxEntry(db: Db, id: number): Promise<OutboxEntry | undefined> {
  return db.read((uow) => uow.mail.get(id));
}

/**
 * Puts failed rows back in the queue (all failed rows, or only `ids`), due now, with their attempt count reset.
 * For an administrator after fixing the SMTP settings or an address. Returns how many rows were requeued.
 */
export function requeueFailedMail(db: Db, ids?: number[], now: Date = new Date()): Promise<number> {
  return db.tx((uow) => uow.mail.requeueFailed(ids, now));
}

/**
 * Deletes delivered notices sent before `before` (their delivery stays in the audit log as "mail.sent"). Queued
 * and failed notices are never deleted. Returns how many rows were deleted.
 */
export function pruneSentMail(db: Db, before: Date): Promise<number> {
  return db.tx((uow) => uow.mail.pruneSent(before));
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

/** Counts by state, the oldest queued notice and the last errors (default at most 5). */
export function mailStatus(db: Db, options: { errorLimit?: number } = {}): Promise<MailStatus> {
  return db.read((uow) => uow.mail.status(options.errorLimit ?? 5));
}

import { sql } from "kysely";
import type { SqlContext } from "../db/sql.js";
import {
  type MailState,
  type MailStatus,
  type OutboxEntry,
  type OutboxMessage,
  toEntry,
  validateNotice,
} from "./outbox.js";

/**
 * The mail outbox's storage (mail-001 `mail_outbox`). A notice is claimed for sending by one conditional UPDATE
 * (queued -> sending), so two workers never claim the same row; on PostgreSQL the candidate row is picked with
 * FOR UPDATE SKIP LOCKED, so concurrent claimers take different rows instead of waiting for each other.
 */
export class MailRepository {
  constructor(private readonly s: SqlContext) {}

  /**
   * Queues a notice, due at once (state "queued"). Only inserts one row, so it belongs inside the transaction of
   * the change it announces: the notice exists exactly when that change is committed. Duplicate addresses are
   * merged. Throws MailError (NO_RECIPIENTS, BAD_RECIPIENT, BAD_MESSAGE). Returns the row id.
   */
  async enqueue(msg: OutboxMessage, now: Date): Promise<number> {
    const recipients = validateNotice(msg);
    const at = now.toISOString();
    const r = await this.s.q
      .insertInto("mail_outbox")
      .values({
        created_at: at,
        kind: msg.kind,
        case_id: msg.caseId ?? null,
        recipients: JSON.stringify(recipients),
        subject: msg.subject,
        body: msg.text,
        state: "queued",
        attempts: 0,
        next_attempt_at: at,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return r.id;
  }

  async get(id: number): Promise<OutboxEntry | undefined> {
    const r = await this.s.q.selectFrom("mail_outbox").selectAll().where("id", "=", id).executeTakeFirst();
    return r && toEntry(r);
  }

  /** Moves the oldest due queued row (next_attempt_at <= now) to "sending" and returns it; undefined when none. */
  async claimNextDue(now: Date): Promise<OutboxEntry | undefined> {
    const at = now.toISOString();
    const r = await this.s.q
      .updateTable("mail_outbox")
      .set({ state: "sending" })
      .where("id", "=", (eb) => {
        let q = eb
          .selectFrom("mail_outbox")
          .select("id")
          .where("state", "=", "queued")
          .where("next_attempt_at", "<=", at)
          .orderBy("next_attempt_at")
          .orderBy("id")
          .limit(1);
        if (this.s.dialect === "postgres") q = q.forUpdate().skipLocked();
        return q;
      })
      .where("state", "=", "queued")
      .returningAll()
      .executeTakeFirst();
    return r && toEntry(r);
  }

  /** Marks a claimed row delivered. */
  async markSent(id: number, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.s.q
      .updateTable("mail_outbox")
      .set({ state: "sent", sent_at: at, last_attempt_at: at })
      .where("id", "=", id)
      .where("state", "=", "sending")
      .execute();
  }

  /**
   * Records a failed attempt on a claimed (or interrupted) row: attempts + 1 and, when `retryAt` is given, back to
   * "queued" due at that time; otherwise the row becomes "failed" for good. Returns the updated row.
   */
  async markAttemptFailed(
    id: number,
    failure: { error: string; now: Date; retryAt: Date | null },
  ): Promise<OutboxEntry | undefined> {
    const r = await this.s.q
      .updateTable("mail_outbox")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        last_error: failure.error.slice(0, 1000),
        last_attempt_at: failure.now.toISOString(),
        state: failure.retryAt ? "queued" : "failed",
        ...(failure.retryAt ? { next_attempt_at: failure.retryAt.toISOString() } : {}),
      }))
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
    return r && toEntry(r);
  }

  /** Rows left in "sending" (a send interrupted by a crash or kill). */
  async listInterrupted(): Promise<OutboxEntry[]> {
    const rows = await this.s.q
      .selectFrom("mail_outbox")
      .selectAll()
      .where("state", "=", "sending")
      .orderBy("id")
      .execute();
    return rows.map(toEntry);
  }

  /** Puts a row left in "sending" back in the queue, due now, counting the interrupted send as one attempt. */
  async requeueInterrupted(id: number, info: { error: string; now: Date }): Promise<void> {
    const at = info.now.toISOString();
    await this.s.q
      .updateTable("mail_outbox")
      .set((eb) => ({
        state: "queued",
        attempts: eb("attempts", "+", 1),
        last_error: info.error,
        last_attempt_at: at,
        next_attempt_at: at,
      }))
      .where("id", "=", id)
      .where("state", "=", "sending")
      .execute();
  }

  /** Failed rows (all, or only `ids`) back in the queue, due now, attempts reset. Returns how many. */
  async requeueFailed(ids: number[] | undefined, now: Date): Promise<number> {
    if (ids && ids.length === 0) return 0;
    let q = this.s.q
      .updateTable("mail_outbox")
      .set({ state: "queued", attempts: 0, next_attempt_at: now.toISOString() })
      .where("state", "=", "failed");
    if (ids) q = q.where("id", "in", ids);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Deletes delivered rows sent before `before`. Returns how many. */
  async pruneSent(before: Date): Promise<number> {
    const r = await this.s.q
      .deleteFrom("mail_outbox")
      .where("state", "=", "sent")
      .where("sent_at", "<", before.toISOString())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async status(errorLimit: number): Promise<MailStatus> {
    const counts: Record<MailState, number> = { queued: 0, sending: 0, sent: 0, failed: 0 };
    const rows = await this.s.q
      .selectFrom("mail_outbox")
      .select(["state", sql<number>`count(*)`.as("n")])
      .groupBy("state")
      .execute();
    for (const r of rows) counts[r.state] = Number(r.n);
    const oldest = await this.s.q
      .selectFrom("mail_outbox")
      .selectAll()
      .where("state", "=", "queued")
      .orderBy("created_at")
      .orderBy("id")
      .limit(1)
      .executeTakeFirst();
    const errors = await this.s.q
      .selectFrom("mail_outbox")
      .selectAll()
      .where("last_error", "is not", null)
      .where("state", "in", ["queued", "failed"])
      .orderBy("last_attempt_at", "desc")
      .orderBy("id", "desc")
      .limit(errorLimit)
      .execute();
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
}

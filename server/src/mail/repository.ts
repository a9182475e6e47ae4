import type { SqlContext } from "../db/sql.js";
import { type OutboxMessage, validateNotice } from "./outbox.js";

/** The mail outbox's storage. */
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
}

import type { AuditEntryDto, AuditQuery, MailMessageDto, MailQuery } from "@sealpost/protocol";
import { sql } from "kysely";
import type { SqlContext } from "../db/sql.js";
import { toEntry } from "../mail/outbox.js";

/** One case's times for the statistics: registration month and the sent (payload) and result upload times. */
export interface CaseStatRow {
  month: string;
  senderAgency: string;
  receivingAgency: string;
  category: string;
  state: string;
  cases: number;
}

/**
 * What the operators' views read (audit browse, mail outbox, statistics): read-only queries over the audit,
 * mail and cases tables, the same SQL on SQLite and PostgreSQL. Pages are newest first and keyed by the row's
 * sequence number or id (`before`: strictly older), so a page never shifts when new rows arrive.
 */
export class OpsRepository {
  constructor(private readonly s: SqlContext) {}

  /** Up to `limit` audit entries, newest first, matching every filter given, with seq < `before` when given. */
  async auditPage(f: Omit<AuditQuery, "limit" | "before">, limit: number, before?: number): Promise<AuditEntryDto[]> {
    let q = this.s.q.selectFrom("audit_log").selectAll();
    if (f.from) q = q.where("time", ">=", new Date(f.from).toISOString());
    if (f.to) q = q.where("time", "<", new Date(f.to).toISOString());
    if (f.actor) q = q.where("actor", "=", f.actor);
    if (f.action?.endsWith(".")) q = q.where(sql<string>`substr(action, 1, ${f.action.length})`, "=", f.action);
    else if (f.action) q = q.where("action", "=", f.action);
    if (f.caseId) q = q.where("case_id", "=", f.caseId);
    if (f.agency) q = q.where("agency", "=", f.agency);
    if (before !== undefined) q = q.where("seq", "<", before);
    const rows = await q.orderBy("seq", "desc").limit(limit).execute();
    return rows.map((r) => ({
      seq: r.seq,
      time: r.time,
      actor: r.actor,
      role: r.role,
      agency: r.agency,
      action: r.action,
      caseId: r.case_id,
      fileSha256: JSON.parse(r.file_sha256) as string[],
      source: r.source,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }

  /** The number of audit entries. */
  async auditCount(): Promise<number> {
    const r = await this.s.q.selectFrom("audit_log").select(sql<number>`count(*)`.as("n")).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Up to `limit` outbox notices, newest first, in `state` and of `caseId` when given, with id < `before`. */
  async outboxPage(f: Omit<MailQuery, "limit" | "before">, limit: number, before?: number): Promise<MailMessageDto[]> {
    let q = this.s.q.selectFrom("mail_outbox").selectAll();
    if (f.state) q = q.where("state", "=", f.state);
    if (f.caseId) q = q.where("case_id", "=", f.caseId);
    if (before !== undefined) q = q.where("id", "<", before);
    const rows = await q.orderBy("id", "desc").limit(limit).execute();
    return rows.map(toEntry);
  }

  /**
   * Cases registered in [from, to) (each bound optional) counted by registration month (UTC, YYYY-MM), sending
   * agency, receiving agency, category and state.
   */
  async caseGroups(from?: string, to?: string): Promise<CaseStatRow[]> {
    const month = sql<string>`substr(created_at, 1, 7)`;
    let q = this.s.q
      .selectFrom("cases")
      .select([
        month.as("month"),
        "sender_agency",
        "receiving_agency",
        "category",
        "state",
        sql<number | string>`count(*)`.as("n"),
      ]);
    if (from) q = q.where("created_at", ">=", from);
    if (to) q = q.where("created_at", "<", to);
    const rows = await q
      .groupBy([month, "sender_agency", "receiving_agency", "category", "state"])
      .orderBy(month)
      .orderBy("sender_agency")
      .orderBy("receiving_agency")
      .orderBy("category")
      .orderBy("state")
      .execute();
    return rows.map((r) => ({
      month: r.month,
      senderAgency: r.sender_agency,
      receivingAgency: r.receiving_agency,
      category: r.category,
      state: r.state,
      cases: Number(r.n),
    }));
  }

  /**
   * The sent and result times (payload_at, result_at) of the cases registered in [from, to) that have both, with
   * their registration month: one short row per such case.
   */
  async sentToResult(from?: string, to?: string): Promise<{ month: string; sentAt: string; resultAt: string }[]> {
    let q = this.s.q
      .selectFrom("cases")
      .select(["created_at", "payload_at", "result_at"])
      .where("payload_at", "is not", null)
      .where("result_at", "is not", null);
    if (from) q = q.where("created_at", ">=", from);
    if (to) q = q.where("created_at", "<", to);
    const rows = await q.execute();
    return rows.map((r) => ({ month: r.created_at.slice(0, 7), sentAt: r.payload_at!, resultAt: r.result_at! }));
  }
}

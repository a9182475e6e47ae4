import type { CaseState } from "@sealpost/protocol";
import { type Insertable, type Selectable, sql, type Updateable } from "kysely";
import type { CaseRecipientsTable, CasesTable } from "../db/schema.js";
import type { SqlContext } from "../db/sql.js";
import type { CertRow } from "../registry/repository.js";

export type CaseRow = Selectable<CasesTable>;

/** Where a page of cases ends: the last item's updated_at and id (the list is ordered updated_at DESC, id DESC). */
export interface CaseCursor {
  updatedAt: string;
  id: string;
}

/** A receipt as listed: the row with the signer's name and certificate. */
export interface ReceiptListRow {
  id: number;
  staff_id: string;
  name: string;
  cert_sha: string;
  der: Buffer;
  statement: string;
  signature: string;
  created_at: string;
}

/**
 * Transfer cases, their recipient certificates, notes and receipts. A state change is one conditional UPDATE
 * (`WHERE id = ? AND state IN (<from>)`): of two concurrent changes on any instance exactly one changes the row
 * (PostgreSQL re-checks the condition after the first commits). Checks that read and then insert (one receipt per
 * person) first lock the case row (`lock`: SELECT ... FOR UPDATE on PostgreSQL; SQLite's transaction already holds
 * the write lock).
 */
export class CaseRepository {
  constructor(private readonly s: SqlContext) {}

  get(id: string): Promise<CaseRow | undefined> {
    return this.s.q.selectFrom("cases").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Locks the case's row until the transaction ends (PostgreSQL); returns false when there is no such case. */
  async lock(id: string): Promise<boolean> {
    let q = this.s.q.selectFrom("cases").select("id").where("id", "=", id);
    if (this.s.dialect === "postgres") q = q.forUpdate();
    return (await q.executeTakeFirst()) !== undefined;
  }

  async insert(row: Insertable<CasesTable>): Promise<void> {
    await this.s.q.insertInto("cases").values(row).execute();
  }

  /**
   * Moves the case to `to` when it is in one of `from`, setting `set` and updated_at; returns the updated row, or
   * undefined when no row changed (unknown case, or not in a from-state).
   */
  async transition(
    id: string,
    from: readonly CaseState[],
    to: CaseState,
    updatedAt: string,
    set: Updateable<CasesTable> = {},
  ): Promise<CaseRow | undefined> {
    return this.s.q
      .updateTable("cases")
      .set({ ...set, state: to, updated_at: updatedAt })
      .where("id", "=", id)
      .where("state", "in", from)
      .returningAll()
      .executeTakeFirst();
  }

  /** Adds recipients; with `ignoreDuplicates` an existing (case, side, certificate) row is left as it is. */
  async addRecipients(rows: Insertable<CaseRecipientsTable>[], ignoreDuplicates = false): Promise<void> {
    if (rows.length === 0) return;
    let q = this.s.q.insertInto("case_recipients").values(rows);
    if (ignoreDuplicates) q = q.onConflict((oc) => oc.columns(["case_id", "side", "cert_id"]).doNothing());
    await q.execute();
  }

  /** The payload's recipient certificates: receivers first, then the sender's copies; each oldest first. */
  payloadRecipientCerts(caseId: string): Promise<CertRow[]> {
    return this.s.q
      .selectFrom("case_recipients as r")
      .innerJoin("certificates as c", "c.id", "r.cert_id")
      .selectAll("c")
      .where("r.case_id", "=", caseId)
      .where("r.side", "=", "payload")
      .orderBy("r.role")
      .orderBy("c.created_at")
      .execute();
  }

  /** The staff members named as receivers of the payload. */
  async receiverStaffIds(caseId: string): Promise<string[]> {
    const rows = await this.s.q
      .selectFrom("case_recipients")
      .select("staff_id")
      .distinct()
      .where("case_id", "=", caseId)
      .where("side", "=", "payload")
      .where("role", "=", "receiver")
      .orderBy("staff_id")
      .execute();
    return rows.map((r) => r.staff_id);
  }

  async isNamedReceiver(caseId: string, staffId: string): Promise<boolean> {
    const r = await this.s.q
      .selectFrom("case_recipients")
      .select("staff_id")
      .where("case_id", "=", caseId)
      .where("side", "=", "payload")
      .where("role", "=", "receiver")
      .where("staff_id", "=", staffId)
      .executeTakeFirst();
    return r !== undefined;
  }

  async isResultRecipient(caseId: string, staffId: string): Promise<boolean> {
    const r = await this.s.q
      .selectFrom("case_recipients")
      .select("staff_id")
      .where("case_id", "=", caseId)
      .where("side", "=", "result")
      .where("staff_id", "=", staffId)
      .executeTakeFirst();
    return r !== undefined;
  }

  async addNote(row: { case_id: string; staff_id: string; text: string; created_at: string }): Promise<number> {
    const r = await this.s.q.insertInto("case_notes").values(row).returning("id").executeTakeFirstOrThrow();
    return r.id;
  }

  notes(caseId: string) {
    return this.s.q
      .selectFrom("case_notes as n")
      .innerJoin("staff as s", "s.id", "n.staff_id")
      .select(["n.id", "n.staff_id", "s.name", "n.text", "n.created_at"])
      .where("n.case_id", "=", caseId)
      .orderBy("n.id")
      .execute();
  }

  /** The first receipt a person gave for a case and kind, if any. */
  async receiptId(caseId: string, kind: "payload" | "result", staffId: string): Promise<number | undefined> {
    const r = await this.s.q
      .selectFrom("receipts")
      .select("id")
      .where("case_id", "=", caseId)
      .where("kind", "=", kind)
      .where("staff_id", "=", staffId)
      .orderBy("id")
      .limit(1)
      .executeTakeFirst();
    return r?.id;
  }

  async addReceipt(row: {
    case_id: string;
    kind: "payload" | "result";
    staff_id: string;
    cert_id: string;
    sha256: string;
    statement: string;
    signature: string;
    created_at: string;
  }): Promise<number> {
    const r = await this.s.q.insertInto("receipts").values(row).returning("id").executeTakeFirstOrThrow();
    return r.id;
  }

  receipts(caseId: string): Promise<ReceiptListRow[]> {
    return this.s.q
      .selectFrom("receipts as r")
      .innerJoin("staff as s", "s.id", "r.staff_id")
      .innerJoin("certificates as c", "c.id", "r.cert_id")
      .select([
        "r.id",
        "r.staff_id",
        "s.name",
        "c.sha256 as cert_sha",
        "c.der",
        "r.statement",
        "r.signature",
        "r.created_at",
      ])
      .where("r.case_id", "=", caseId)
      .orderBy("r.id")
      .execute();
  }

  /**
   * Up to `take` cases of `agency`, newest change first (updated_at DESC, id DESC), after `before`: one box (the
   * receiving or sending side) or both. Each box walks its (agency, updated_at, id) index from the cursor (a
   * row-value comparison, so the index is seeked, not sorted); both boxes merge the two walks (UNION drops a case
   * that is in both once).
   */
  page(
    agency: string,
    query: { box?: "inbox" | "outbox"; state?: CaseState; before?: CaseCursor },
    take: number,
  ): Promise<CaseRow[]> {
    const box = (column: "receiving_agency" | "sender_agency") => {
      let q = this.s.q.selectFrom("cases").selectAll().where(column, "=", agency);
      if (query.state) q = q.where("state", "=", query.state);
      const before = query.before;
      if (before) q = q.where((eb) => eb(eb.refTuple("updated_at", "id"), "<", eb.tuple(before.updatedAt, before.id)));
      return q.orderBy("updated_at", "desc").orderBy("id", "desc").limit(take);
    };
    if (query.box) return box(query.box === "inbox" ? "receiving_agency" : "sender_agency").execute();
    return this.s.q
      .selectFrom(box("receiving_agency").as("inbox"))
      .selectAll()
      .union(this.s.q.selectFrom(box("sender_agency").as("outbox")).selectAll())
      .orderBy("updated_at", "desc")
      .orderBy("id", "desc")
      .limit(take)
      .execute();
  }

  /** True when a case uses the file as its payload or result. */
  async usesFile(sha256: string): Promise<boolean> {
    const r = await this.s.q
      .selectFrom("cases")
      .select("id")
      .where((eb) => eb.or([eb("payload_sha256", "=", sha256), eb("result_sha256", "=", sha256)]))
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** The newest case of `agency` whose payload is the file with this SHA-256. */
  async byPayload(sha256: string, agency: string): Promise<string | undefined> {
    const r = await this.s.q
      .selectFrom("cases")
      .select("id")
      .where("payload_sha256", "=", sha256)
      .where("sender_agency", "=", agency)
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return r?.id;
  }

  /**
   * Files waiting for an agency's SFTP inbox: payloads of cases it receives in state sent, results of cases it sent
   * in state processed; oldest case first.
   */
  async pendingDeliveries(
    agency: string,
  ): Promise<{ caseId: string; kind: "payload" | "result"; sha256: string; size: number }[]> {
    const payloads = await this.s.q
      .selectFrom("cases")
      .select(["id", "payload_sha256 as sha256", "payload_size as size"])
      .where("receiving_agency", "=", agency)
      .where("state", "=", "sent")
      .where("payload_sha256", "is not", null)
      .where("payload_size", "is not", null)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    const results = await this.s.q
      .selectFrom("cases")
      .select(["id", "result_sha256 as sha256", "result_size as size"])
      .where("sender_agency", "=", agency)
      .where("state", "=", "processed")
      .where("result_sha256", "is not", null)
      .where("result_size", "is not", null)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return [
      ...payloads.map((r) => ({ caseId: r.id, kind: "payload" as const, sha256: r.sha256!, size: r.size! })),
      ...results.map((r) => ({ caseId: r.id, kind: "result" as const, sha256: r.sha256!, size: r.size! })),
    ];
  }

  /** Case counts by state. */
  async countByState(): Promise<Record<string, number>> {
    const rows = await this.s.q
      .selectFrom("cases")
      .select(["state", sql<number>`count(*)`.as("n")])
      .groupBy("state")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }
}

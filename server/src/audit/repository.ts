import { sql } from "kysely";
import type { SqlContext } from "../db/sql.js";
import { type AuditEntry, type AuditEntryInput, entryHash, GENESIS_HASH } from "./log.js";

/** Key of the transaction-level advisory lock that serialises audit appends on PostgreSQL (all instances). */
const AUDIT_LOCK = 7_316_000_002;

/**
 * The audit chain's storage. Appends are serialised so each entry links to the one before: on SQLite the
 * caller's transaction holds the database's write lock from its start (BEGIN IMMEDIATE); on PostgreSQL `append`
 * first takes a transaction-level advisory lock, held until the caller's transaction ends, so appends of every
 * instance form one chain (the next append reads the last entry only after the previous transaction committed).
 * The table itself refuses UPDATE and DELETE (triggers).
 */
export class AuditRepository {
  constructor(private readonly s: SqlContext) {}

  /**
   * Appends one entry at time `now` and returns it. Must run inside the transaction of the change it records
   * (Db.tx): throws otherwise. Call it late in the transaction: on PostgreSQL it holds the chain's lock until commit.
   */
  async append(input: AuditEntryInput, now: Date): Promise<AuditEntry> {
    if (!this.s.inTransaction) throw new Error("audit entries are appended inside the transaction of their change");
    if (this.s.dialect === "postgres") await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`.execute(this.s.q);
    const last = await this.last();
    const partial: Omit<AuditEntry, "hash"> = {
      seq: (last?.seq ?? 0) + 1,
      time: now.toISOString(),
      actor: input.actor,
      role: input.role,
      agency: input.agency,
      action: input.action,
      caseId: input.caseId ?? null,
      fileSha256: input.fileSha256 ?? [],
      source: input.source ?? null,
      detail: input.detail ?? {},
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...partial, hash: entryHash(partial) };
    await this.s.q
      .insertInto("audit_log")
      .values({
        seq: entry.seq,
        time: entry.time,
        actor: entry.actor,
        role: entry.role,
        agency: entry.agency,
        action: entry.action,
        case_id: entry.caseId,
        file_sha256: JSON.stringify(entry.fileSha256),
        source: entry.source,
        detail: JSON.stringify(entry.detail),
        prev_hash: entry.prevHash,
        hash: entry.hash,
      })
      .execute();
    return entry;
  }

  /** The last entry's sequence number and hash, or undefined for an empty chain. */
  async last(): Promise<{ seq: number; hash: string } | undefined> {
    return this.s.q.selectFrom("audit_log").select(["seq", "hash"]).orderBy("seq", "desc").limit(1).executeTakeFirst();
  }

  /** Up to `limit` entries after sequence number `after`, in order. */
  async page(after: number, limit: number): Promise<AuditEntry[]> {
    const rows = await this.s.q
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">", after)
      .orderBy("seq")
      .limit(limit)
      .execute();
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
}

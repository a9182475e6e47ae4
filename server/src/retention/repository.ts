import { sql } from "kysely";
import type { SqlContext } from "../db/sql.js";
import type { FileUse } from "./candidates.js";

/**
 * What retention reads and writes: which stored files every case using them has left behind, and the record of
 * purged files (`files.purged_at`, retention-001 `purged_files`).
 */
export class RetentionRepository {
  constructor(private readonly s: SqlContext) {}

  /**
   * Stored, not yet purged files that every case using them has left behind: each such case ended
   * (result_received or cancelled) at or before `cutoff`. A file still used by any other case, active or ended
   * more recently, is not a candidate (files are shared by content address). Files no case uses are left to the
   * store's orphan sweep. Oldest first.
   */
  purgeCandidates(cutoff: string): Promise<{ sha256: string; size: number }[]> {
    const uses = sql`(c.payload_sha256 = f.sha256 OR c.result_sha256 = f.sha256)`;
    // A use that keeps the file: the case has not ended, or ended after the cutoff (or without an end time).
    const keeps = sql`NOT (c.state IN ('result_received', 'cancelled') AND c.ended_at IS NOT NULL AND c.ended_at <= ${cutoff})`;
    return this.s.q
      .selectFrom("files as f")
      .select(["f.sha256", "f.size"])
      .where("f.purged_at", "is", null)
      .where(sql<boolean>`EXISTS (SELECT 1 FROM cases c WHERE ${uses})`)
      .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM cases c WHERE ${uses} AND ${keeps})`)
      .orderBy("f.created_at")
      .orderBy("f.sha256")
      .execute();
  }

  /** Every case use of `sha256`. */
  async fileUses(sha256: string): Promise<FileUse[]> {
    const payload = await this.s.q
      .selectFrom("cases")
      .select(["id", "state", "ended_at"])
      .where("payload_sha256", "=", sha256)
      .execute();
    const result = await this.s.q
      .selectFrom("cases")
      .select(["id", "state", "ended_at"])
      .where("result_sha256", "=", sha256)
      .execute();
    return [
      ...payload.map((r) => ({ caseId: r.id, role: "payload" as const, state: r.state, endedAt: r.ended_at })),
      ...result.map((r) => ({ caseId: r.id, role: "result" as const, state: r.state, endedAt: r.ended_at })),
    ];
  }

  async markPurged(sha256: string, at: string): Promise<void> {
    await this.s.q.updateTable("files").set({ purged_at: at }).where("sha256", "=", sha256).execute();
  }

  async recordPurged(sha256: string, caseId: string, role: "payload" | "result", at: string): Promise<void> {
    await this.s.q
      .insertInto("purged_files")
      .values({ sha256, case_id: caseId, role, purged_at: at })
      .onConflict((oc) => oc.columns(["sha256", "case_id", "role"]).doNothing())
      .execute();
  }

  /**
   * True when the purge took this case's `role` file away. That stays true when the same bytes are stored again
   * for another case (the store is content-addressed and `files.purged_at` is cleared then).
   */
  async wasPurgedFor(sha256: string, caseId: string, role: "payload" | "result"): Promise<boolean> {
    const r = await this.s.q
      .selectFrom("purged_files")
      .select("sha256")
      .where("sha256", "=", sha256)
      .where("case_id", "=", caseId)
      .where("role", "=", role)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Files purged so far, their total size and the time of the last purge. */
  async purgedTotals(): Promise<{ n: number; bytes: number; last: string | null }> {
    const r = await this.s.q
      .selectFrom("files")
      .select([
        sql<number>`count(*)`.as("n"),
        sql<number>`coalesce(sum(size), 0)`.as("bytes"),
        sql<string | null>`max(purged_at)`.as("last"),
      ])
      .where("purged_at", "is not", null)
      .executeTakeFirstOrThrow();
    return { n: Number(r.n), bytes: Number(r.bytes), last: r.last };
  }
}

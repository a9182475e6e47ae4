import type { SqlContext } from "../db/sql.js";

/** The web console's login codes and sessions (see console/service.ts); only hashes of secrets are stored. */
export class ConsoleRepository {
  constructor(private readonly s: SqlContext) {}

  async insertCode(row: { code_hash: string; poll_hash: string; expires_at: string }): Promise<void> {
    await this.s.q
      .insertInto("console_codes")
      .values({ ...row, staff_id: null, cert_id: null })
      .execute();
  }

  async deleteExpiredCodes(now: string): Promise<void> {
    await this.s.q.deleteFrom("console_codes").where("expires_at", "<", now).execute();
  }

  /**
   * Marks an unexpired, not yet approved code as approved by `staffId` with `certId`; false when there is no such
   * code (one statement: of two approvals racing on one code only one wins).
   */
  async approveCode(codeHash: string, now: string, staffId: string, certId: string): Promise<boolean> {
    const r = await this.s.q
      .updateTable("console_codes")
      .set({ staff_id: staffId, cert_id: certId })
      .where("code_hash", "=", codeHash)
      .where("staff_id", "is", null)
      .where("expires_at", ">=", now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async codeByPoll(pollHash: string) {
    return this.s.q.selectFrom("console_codes").selectAll().where("poll_hash", "=", pollHash).executeTakeFirst();
  }

  /** Removes the approved code of `pollHash` and returns it (single use); undefined when another poll took it. */
  async takeApprovedCode(pollHash: string) {
    return this.s.q
      .deleteFrom("console_codes")
      .where("poll_hash", "=", pollHash)
      .where("staff_id", "is not", null)
      .returningAll()
      .executeTakeFirst();
  }

  async insertSession(row: { token_hash: string; last_seen_ms: number }): Promise<void> {
    await this.s.q.insertInto("console_sessions").values(row).execute();
  }

  async session(tokenHash: string) {
    return this.s.q.selectFrom("console_sessions").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
  }

  async touchSession(tokenHash: string, nowMs: number): Promise<void> {
    await this.s.q
      .updateTable("console_sessions")
      .set({ last_seen_ms: nowMs })
      .where("token_hash", "=", tokenHash)
      .execute();
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.s.q.deleteFrom("console_sessions").where("token_hash", "=", tokenHash).execute();
  }

  /** Sessions unused since before `beforeMs`, or whose token is gone, are removed (bounded table). */
  async deleteIdleSessions(beforeMs: number): Promise<void> {
    await this.s.q.deleteFrom("console_sessions").where("last_seen_ms", "<", beforeMs).execute();
    await this.s.q
      .deleteFrom("console_sessions")
      .where("token_hash", "not in", (eb) => eb.selectFrom("tokens").select("hash"))
      .execute();
  }
}

import type { SqlContext } from "../db/sql.js";
import { type RateLimitConfig, refillMs, takeToken } from "./rate-limit.js";

/** The staff member, certificate and agency behind a bearer token, as one row. */
export interface TokenActorRow {
  cert_id: string;
  expires_at: string;
  id: string;
  name: string;
  email: string;
  agency: string;
  role: "staff" | "admin" | "ops";
  active: number;
  status: "active" | "revoked" | "expired";
  allow_cidrs: string;
  agency_active: number;
}

/**
 * Login challenges, bearer tokens (by the SHA-256 of the token) and the per-source rate limit of the login
 * endpoints: everything the auth domain keeps, in the database so several instances share it.
 */
export class AuthRepository {
  constructor(private readonly s: SqlContext) {}

  async insertChallenge(row: { id: string; challenge: string; staff_id: string | null; expires_at: string }) {
    await this.s.q.insertInto("challenges").values(row).execute();
  }

  async deleteExpiredChallenges(now: string): Promise<void> {
    await this.s.q.deleteFrom("challenges").where("expires_at", "<", now).execute();
  }

  /**
   * Removes the challenge and returns it (single use: one statement, so of two logins racing on one challenge on
   * any instance only one gets it).
   */
  async takeChallenge(id: string) {
    return this.s.q.deleteFrom("challenges").where("id", "=", id).returningAll().executeTakeFirst();
  }

  async insertToken(row: { hash: string; staff_id: string; cert_id: string; created_at: string; expires_at: string }) {
    await this.s.q.insertInto("tokens").values(row).execute();
  }

  async deleteExpiredTokens(now: string): Promise<void> {
    await this.s.q.deleteFrom("tokens").where("expires_at", "<", now).execute();
  }

  async deleteToken(hash: string): Promise<void> {
    await this.s.q.deleteFrom("tokens").where("hash", "=", hash).execute();
  }

  /** Deletes every token (every login of every staff member); returns how many there were. */
  async deleteAllTokens(): Promise<number> {
    const r = await this.s.q.deleteFrom("tokens").executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async deleteTokensOfStaff(staffId: string): Promise<void> {
    await this.s.q.deleteFrom("tokens").where("staff_id", "=", staffId).execute();
  }

  async deleteTokensOfAgency(agency: string): Promise<void> {
    await this.s.q
      .deleteFrom("tokens")
      .where("staff_id", "in", (eb) => eb.selectFrom("staff").select("id").where("agency", "=", agency))
      .execute();
  }

  async deleteTokensOfCertificate(certId: string): Promise<void> {
    await this.s.q.deleteFrom("tokens").where("cert_id", "=", certId).execute();
  }

  /** The token's row joined with its staff member, certificate and agency; undefined for an unknown token. */
  async tokenActor(hash: string): Promise<TokenActorRow | undefined> {
    return this.s.q
      .selectFrom("tokens as t")
      .innerJoin("staff as s", "s.id", "t.staff_id")
      .innerJoin("certificates as c", "c.id", "t.cert_id")
      .innerJoin("agencies as a", "a.code", "s.agency")
      .select([
        "t.cert_id",
        "t.expires_at",
        "s.id",
        "s.name",
        "s.email",
        "s.agency",
        "s.role",
        "s.active",
        "c.status",
        "a.allow_cidrs",
        "a.active as agency_active",
      ])
      .where("t.hash", "=", hash)
      .executeTakeFirst();
  }

  /**
   * Takes one token from the bucket `key` at `nowMs` (see takeToken); returns 0 or the seconds to wait. Must run in a
   * transaction: the row is created if missing (ON CONFLICT DO NOTHING, so two instances creating it at once both
   * succeed), then read under a row lock on PostgreSQL (SELECT ... FOR UPDATE; on SQLite the transaction already
   * holds the write lock) and written back, so concurrent requests of several instances each take their own token.
   * Creating a new bucket also prunes buckets idle long enough to be full again (bounded table).
   */
  async takeRateLimitToken(key: string, nowMs: number, cfg: RateLimitConfig): Promise<number> {
    if (!this.s.inTransaction) throw new Error("rate limit tokens are taken inside a transaction");
    const created = await this.s.q
      .insertInto("rate_limits")
      .values({ key, tokens: cfg.burst, at_ms: nowMs })
      .onConflict((oc) => oc.column("key").doNothing())
      .executeTakeFirst();
    if (Number(created.numInsertedOrUpdatedRows ?? 0) > 0) {
      await this.s.q
        .deleteFrom("rate_limits")
        .where("at_ms", "<", nowMs - refillMs(cfg))
        .where("key", "!=", key)
        .execute();
    }
    let q = this.s.q.selectFrom("rate_limits").select(["tokens", "at_ms"]).where("key", "=", key);
    if (this.s.dialect === "postgres") q = q.forUpdate();
    const row = await q.executeTakeFirstOrThrow();
    const { tokens, wait } = takeToken({ tokens: row.tokens, atMs: row.at_ms }, nowMs, cfg);
    await this.s.q.updateTable("rate_limits").set({ tokens, at_ms: nowMs }).where("key", "=", key).execute();
    return wait;
  }
}

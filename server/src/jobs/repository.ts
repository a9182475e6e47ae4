import { sql } from "kysely";
import type { SqlContext } from "../db/sql.js";

/** A lease as stored. */
export interface Lease {
  name: string;
  owner: string;
  expiresAt: string;
  generation: number;
}

/**
 * Leases with expiry (jobs-001 `job_leases`): the way background jobs run on exactly one relay instance at a time.
 * Taking or renewing a lease is one statement (an upsert whose update only happens when the row is free, expired or
 * already ours), so of instances racing for a lease exactly one gets it, on SQLite and on PostgreSQL alike.
 * Times are the instances' clocks: keep them in step (NTP); a lease should last many times the expected skew.
 */
export class LeaseRepository {
  constructor(private readonly s: SqlContext) {}

  /**
   * Takes or renews the lease `name` for `owner` until `now + ttlMs`. Returns the lease when `owner` holds it now,
   * undefined when another instance holds an unexpired one.
   */
  async acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<Lease | undefined> {
    const at = now.toISOString();
    const until = new Date(now.getTime() + ttlMs).toISOString();
    const r = await this.s.q
      .insertInto("job_leases")
      .values({ name, owner, expires_at: until, generation: 1 })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet({
            owner,
            expires_at: until,
            generation: sql<number>`CASE WHEN job_leases.owner = ${owner} THEN job_leases.generation ELSE job_leases.generation + 1 END`,
          })
          .where((eb) => eb.or([eb("job_leases.owner", "=", owner), eb("job_leases.expires_at", "<=", at)])),
      )
      .returningAll()
      .executeTakeFirst();
    return r && r.owner === owner
      ? { name: r.name, owner: r.owner, expiresAt: r.expires_at, generation: r.generation }
      : undefined;
  }

  /** Removes every lease whose name starts with `prefix` (whoever holds it). */
  async releaseAll(prefix: string): Promise<number> {
    const r = await this.s.q.deleteFrom("job_leases").where("name", "like", `${prefix}%`).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Gives the lease up (only when `owner` holds it). */
  async release(name: string, owner: string): Promise<void> {
    await this.s.q.deleteFrom("job_leases").where("name", "=", name).where("owner", "=", owner).execute();
  }

  async get(name: string): Promise<Lease | undefined> {
    const r = await this.s.q.selectFrom("job_leases").selectAll().where("name", "=", name).executeTakeFirst();
    return r ? { name: r.name, owner: r.owner, expiresAt: r.expires_at, generation: r.generation } : undefined;
  }
}

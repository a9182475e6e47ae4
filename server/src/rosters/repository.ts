import type { Insertable, Selectable } from "kysely";
import type { RosterEntriesTable, RosterOfficersTable, RostersTable } from "../db/schema.js";
import type { SqlContext } from "../db/sql.js";

export type OfficerRow = Selectable<RosterOfficersTable> & {
  name: string;
  email: string;
  cert_status: string;
};
export type RosterRow = Selectable<RostersTable>;

/**
 * Roster officers, stored rosters and their entries. A roster version is stored once and never changed: the
 * (agency, version) key refuses a second roster of the same version (a concurrent store of the same version gets
 * a unique violation: CONFLICT for the caller). Storing locks the agency's row first (`lockAgency`: SELECT ... FOR
 * UPDATE on PostgreSQL; SQLite's transaction holds the write lock), so "the version grows" is checked and written
 * by one transaction at a time.
 */
export class RosterRepository {
  constructor(private readonly s: SqlContext) {}

  /** Locks the agency's row until the transaction ends (PostgreSQL); false when there is no such agency. */
  async lockAgency(code: string): Promise<boolean> {
    let q = this.s.q.selectFrom("agencies").select("code").where("code", "=", code);
    if (this.s.dialect === "postgres") q = q.forUpdate();
    return (await q.executeTakeFirst()) !== undefined;
  }

  private officerQuery() {
    return this.s.q
      .selectFrom("roster_officers as o")
      .innerJoin("staff as s", "s.id", "o.staff_id")
      .leftJoin("certificates as c", "c.sha256", "o.cert_sha256")
      .select([
        "o.agency",
        "o.cert_sha256",
        "o.staff_id",
        "o.added_at",
        "o.added_by",
        "o.removed_at",
        "s.name",
        "s.email",
        (eb) => eb.fn.coalesce("c.status", eb.val("unknown")).as("cert_status"),
      ]);
  }

  /** The agency's current (not removed) officers, oldest first. */
  officers(agency: string): Promise<OfficerRow[]> {
    return this.officerQuery()
      .where("o.agency", "=", agency)
      .where("o.removed_at", "is", null)
      .orderBy("o.added_at")
      .orderBy("o.cert_sha256")
      .execute();
  }

  /** One officer key of the agency (removed or not). */
  officer(agency: string, certSha256: string): Promise<OfficerRow | undefined> {
    return this.officerQuery()
      .where("o.agency", "=", agency)
      .where("o.cert_sha256", "=", certSha256.toLowerCase())
      .executeTakeFirst();
  }

  async insertOfficer(row: Insertable<RosterOfficersTable>): Promise<void> {
    await this.s.q.insertInto("roster_officers").values(row).execute();
  }

  /** Makes a removed officer key current again (added anew). */
  async reinstateOfficer(agency: string, certSha256: string, at: string, by: string | null): Promise<void> {
    await this.s.q
      .updateTable("roster_officers")
      .set({ removed_at: null, added_at: at, added_by: by })
      .where("agency", "=", agency)
      .where("cert_sha256", "=", certSha256)
      .execute();
  }

  /** Removes a current officer key; false when it was not current. */
  async removeOfficer(agency: string, certSha256: string, at: string): Promise<boolean> {
    const r = await this.s.q
      .updateTable("roster_officers")
      .set({ removed_at: at })
      .where("agency", "=", agency)
      .where("cert_sha256", "=", certSha256)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The agency's roster with the highest version, if any. */
  latest(agency: string): Promise<RosterRow | undefined> {
    return this.s.q
      .selectFrom("rosters")
      .selectAll()
      .where("agency", "=", agency)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  async insertRoster(row: Insertable<RostersTable>, entries: Insertable<RosterEntriesTable>[]): Promise<void> {
    await this.s.q.insertInto("rosters").values(row).execute();
    for (let i = 0; i < entries.length; i += 500) {
      await this.s.q
        .insertInto("roster_entries")
        .values(entries.slice(i, i + 500))
        .execute();
    }
  }

  /** SHA-256s of the certificates the agency's current roster lists; undefined when the agency has no roster. */
  async currentCertificates(agency: string): Promise<Set<string> | undefined> {
    const latest = await this.s.q
      .selectFrom("rosters")
      .select("version")
      .where("agency", "=", agency)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!latest) return undefined;
    const rows = await this.s.q
      .selectFrom("roster_entries")
      .select("cert_sha256")
      .where("agency", "=", agency)
      .where("version", "=", latest.version)
      .execute();
    return new Set(rows.map((r) => r.cert_sha256));
  }
}

import type { Insertable, Selectable } from "kysely";
import type { AgenciesTable, CategoriesTable, CertificatesTable, StaffTable } from "../db/schema.js";
import type { SqlContext } from "../db/sql.js";

export type AgencyRow = Selectable<AgenciesTable>;
export type StaffRow = Selectable<StaffTable>;
export type CertRow = Selectable<CertificatesTable>;
export type CategoryRow = Selectable<CategoriesTable>;

/**
 * Agencies, staff, their certificates and transfer categories. E-mail addresses match and sort without regard to
 * case (lower(email) on both databases; a unique index enforces it). Uniqueness of codes, e-mails and certificate
 * hashes is kept by the tables' keys: a concurrent duplicate insert fails with a unique violation (the service
 * answers CONFLICT).
 */
export class RegistryRepository {
  constructor(private readonly s: SqlContext) {}

  agency(code: string): Promise<AgencyRow | undefined> {
    return this.s.q.selectFrom("agencies").selectAll().where("code", "=", code).executeTakeFirst();
  }

  agencies(): Promise<AgencyRow[]> {
    return this.s.q.selectFrom("agencies").selectAll().orderBy("code").execute();
  }

  async insertAgency(row: Insertable<AgenciesTable>): Promise<void> {
    await this.s.q.insertInto("agencies").values(row).execute();
  }

  async updateAgency(
    code: string,
    set: { name: string; email: string; allow_cidrs: string; subject_rules: string },
  ): Promise<void> {
    await this.s.q.updateTable("agencies").set(set).where("code", "=", code).execute();
  }

  async setAgencyActive(code: string, active: boolean): Promise<void> {
    await this.s.q
      .updateTable("agencies")
      .set({ active: active ? 1 : 0 })
      .where("code", "=", code)
      .execute();
  }

  staff(id: string): Promise<StaffRow | undefined> {
    return this.s.q.selectFrom("staff").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** A staff member by id or e-mail address (any case). */
  staffByIdOrEmail(idOrEmail: string): Promise<StaffRow | undefined> {
    return this.s.q
      .selectFrom("staff")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrEmail), eb(eb.fn("lower", ["email"]), "=", idOrEmail.toLowerCase())]))
      .executeTakeFirst();
  }

  /** The active staff member with this e-mail address (any case). */
  activeStaffByEmail(email: string): Promise<StaffRow | undefined> {
    return this.s.q
      .selectFrom("staff")
      .selectAll()
      .where((eb) => eb(eb.fn("lower", ["email"]), "=", email.toLowerCase()))
      .where("active", "=", 1)
      .executeTakeFirst();
  }

  /** Staff of one agency (or all), ordered by agency and e-mail. */
  staffList(agency?: string): Promise<StaffRow[]> {
    let q = this.s.q.selectFrom("staff").selectAll();
    if (agency !== undefined) q = q.where("agency", "=", agency);
    return q
      .orderBy("agency")
      .orderBy((eb) => eb.fn("lower", ["email"]))
      .execute();
  }

  /** Active staff of an agency with one role, ordered by e-mail. */
  activeStaffOf(agency: string, role: StaffRow["role"]): Promise<StaffRow[]> {
    return this.s.q
      .selectFrom("staff")
      .selectAll()
      .where("agency", "=", agency)
      .where("active", "=", 1)
      .where("role", "=", role)
      .orderBy((eb) => eb.fn("lower", ["email"]))
      .execute();
  }

  /** Active staff members with a role, anywhere (e.g. every ops address). */
  activeStaffWithRole(role: StaffRow["role"]): Promise<StaffRow[]> {
    return this.s.q
      .selectFrom("staff")
      .selectAll()
      .where("role", "=", role)
      .where("active", "=", 1)
      .orderBy((eb) => eb.fn("lower", ["email"]))
      .execute();
  }

  async insertStaff(row: Insertable<StaffTable>): Promise<void> {
    await this.s.q.insertInto("staff").values(row).execute();
  }

  async setStaffActive(id: string, active: boolean): Promise<void> {
    await this.s.q
      .updateTable("staff")
      .set({ active: active ? 1 : 0 })
      .where("id", "=", id)
      .execute();
  }

  /** A certificate by id or SHA-256. */
  certificate(idOrSha: string): Promise<CertRow | undefined> {
    return this.s.q
      .selectFrom("certificates")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrSha), eb("sha256", "=", idOrSha.toLowerCase())]))
      .executeTakeFirst();
  }

  /** Certificates of one staff member (or all), oldest first. */
  certificates(staffId?: string): Promise<CertRow[]> {
    let q = this.s.q.selectFrom("certificates").selectAll();
    if (staffId !== undefined) q = q.where("staff_id", "=", staffId).orderBy("created_at");
    else q = q.orderBy("staff_id").orderBy("created_at");
    return q.execute();
  }

  /** Active certificates of one staff member for one purpose, oldest first. */
  activeCertificates(staffId: string, purpose: CertRow["purpose"]): Promise<CertRow[]> {
    return this.s.q
      .selectFrom("certificates")
      .selectAll()
      .where("staff_id", "=", staffId)
      .where("purpose", "=", purpose)
      .where("status", "=", "active")
      .orderBy("created_at")
      .execute();
  }

  /** The owner of an active registered signing certificate, by its SHA-256. */
  async activeSigningCertOwner(sha256: string): Promise<string | undefined> {
    const r = await this.s.q
      .selectFrom("certificates")
      .select("staff_id")
      .where("sha256", "=", sha256.toLowerCase())
      .where("purpose", "=", "sign")
      .where("status", "=", "active")
      .executeTakeFirst();
    return r?.staff_id;
  }

  /** The staff member (id, role, agency) a certificate with this SHA-256 belongs to, whatever its status. */
  certificateOwner(sha256: string): Promise<{ id: string; role: string; agency: string } | undefined> {
    return this.s.q
      .selectFrom("certificates as c")
      .innerJoin("staff as s", "s.id", "c.staff_id")
      .select(["s.id", "s.role", "s.agency"])
      .where("c.sha256", "=", sha256)
      .executeTakeFirst();
  }

  /** Active certificates whose notAfter is before `now` (ISO), with their staff member's agency. */
  expiredButActive(now: string) {
    return this.s.q
      .selectFrom("certificates as c")
      .leftJoin("staff as s", "s.id", "c.staff_id")
      .select(["c.id", "c.sha256", "c.staff_id", "c.purpose", "c.not_after", "s.agency"])
      .where("c.status", "=", "active")
      .where("c.not_after", "<", now)
      .orderBy("c.id")
      .execute();
  }

  /** Marks an active certificate expired; false when it was no longer active (another transaction did it). */
  async markExpired(id: string): Promise<boolean> {
    const r = await this.s.q
      .updateTable("certificates")
      .set({ status: "expired" })
      .where("id", "=", id)
      .where("status", "=", "active")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async insertCertificate(row: Insertable<CertificatesTable>): Promise<void> {
    await this.s.q.insertInto("certificates").values(row).execute();
  }

  /** Revokes a certificate that is not revoked yet; false when it already was (CONFLICT for the caller). */
  async revokeCertificate(id: string, at: string, reason: string): Promise<boolean> {
    const r = await this.s.q
      .updateTable("certificates")
      .set({ status: "revoked", revoked_at: at, revoke_reason: reason })
      .where("id", "=", id)
      .where("status", "!=", "revoked")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  category(code: string): Promise<CategoryRow | undefined> {
    return this.s.q.selectFrom("categories").selectAll().where("code", "=", code).executeTakeFirst();
  }

  categories(): Promise<CategoryRow[]> {
    return this.s.q.selectFrom("categories").selectAll().orderBy("code").execute();
  }

  async insertCategory(row: Insertable<CategoriesTable>): Promise<void> {
    await this.s.q.insertInto("categories").values(row).execute();
  }

  async setCategoryActive(code: string, active: boolean): Promise<void> {
    await this.s.q
      .updateTable("categories")
      .set({ active: active ? 1 : 0 })
      .where("code", "=", code)
      .execute();
  }
}

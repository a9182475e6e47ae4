import type { AgencyDto, CategoryDto, CertPurpose, StaffDto } from "@sealpost/protocol";
import type { CertInfo } from "@sealpost/pki";
import type Database from "better-sqlite3";
import { appendAudit } from "../audit/log.js";
import type { ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { agencyDto, categoryDto, staffDto } from "./dto.js";
import type { AgencyRow, CategoryRow, CertRow, StaffRow } from "./repository.js";

/**
 * Synchronous registry reads for the domains not yet moved onto the unit of work (auth, cases, drops): they call
 * these inside their better-sqlite3 transactions. Same rules as RegistryService; removed with their last caller.
 */

export function getAgency(db: Database.Database, code: string): AgencyDto {
  const r = db.prepare("SELECT * FROM agencies WHERE code = ?").get(code) as AgencyRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No agency with code ${code}.`);
  return agencyDto(r);
}

export function getStaff(db: Database.Database, id: string): StaffDto {
  const r = db.prepare("SELECT * FROM staff WHERE id = ?").get(id) as StaffRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No staff member ${id}.`);
  return staffDto(r);
}

export function getCategory(db: Database.Database, code: string): CategoryDto {
  const r = db.prepare("SELECT * FROM categories WHERE code = ?").get(code) as CategoryRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No transfer category ${code}.`);
  return categoryDto(r);
}

/** Marks active certificates past notAfter expired, each with its "cert.expire" audit entry. */
export function expireCertificates(db: Database.Database): void {
  const t = new Date().toISOString();
  const due = () =>
    db
      .prepare(
        "SELECT id, sha256, staff_id, purpose, not_after FROM certificates WHERE status = 'active' AND not_after < ?",
      )
      .all(t) as { id: string; sha256: string; staff_id: string; purpose: string; not_after: string }[];
  if (due().length === 0) return;
  db.transaction(() => {
    for (const r of due()) {
      db.prepare("UPDATE certificates SET status = 'expired' WHERE id = ? AND status = 'active'").run(r.id);
      const staff = db.prepare("SELECT agency FROM staff WHERE id = ?").get(r.staff_id) as
        | { agency: string }
        | undefined;
      appendAudit(db, {
        actor: "system",
        role: "system",
        agency: staff?.agency ?? null,
        source: null,
        action: "cert.expire",
        detail: { certId: r.id, sha256: r.sha256, staffId: r.staff_id, purpose: r.purpose, notAfter: r.not_after },
      });
    }
  })();
}

/** Active certificate rows of one staff member for one purpose. */
export function activeCertRows(db: Database.Database, staffId: string, purpose: CertPurpose): CertRow[] {
  expireCertificates(db);
  return db
    .prepare("SELECT * FROM certificates WHERE staff_id = ? AND purpose = ? AND status = 'active' ORDER BY created_at")
    .all(staffId, purpose) as CertRow[];
}

/** See CertificateValidator. */
export async function validateCert(ctx: ServerContext, cert: CertInfo, purpose: CertPurpose, chain: CertInfo[] = []) {
  await ctx.validator.validate(cert, purpose, chain);
}

import { randomUUID } from "node:crypto";
import type {
  AgencyDto,
  CategoryDto,
  CertificateDto,
  CertPurpose,
  CertStatus,
  Role,
  StaffDto,
} from "@sealpost/protocol";
import { type CertInfo, certificateToPem, parseCertificate, parseCertificates, PkiError } from "@sealpost/pki";
import type Database from "better-sqlite3";
import { appendAudit } from "../audit/log.js";
import type { Actor, ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { validateCidrs } from "./cidr.js";

/**
 * The registry: agencies, staff, their certificates, and transfer categories. Every change is audited in the same
 * transaction. Certificates are validated against the server's trust policy (chain, key usage, validity,
 * revocation) when registered and again whenever they are used.
 */

const now = () => new Date().toISOString();

function auditOf(actor: Actor | null) {
  return {
    actor: actor?.staffId ?? "system",
    role: actor?.role ?? "system",
    agency: actor?.agency ?? null,
    source: actor?.source ?? null,
  };
}

interface AgencyRow {
  code: string;
  name: string;
  email: string;
  allow_cidrs: string;
  active: number;
}
const agencyDto = (r: AgencyRow): AgencyDto => ({
  code: r.code,
  name: r.name,
  email: r.email,
  allowCidrs: JSON.parse(r.allow_cidrs) as string[],
  active: r.active === 1,
});

const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The same rule as the mail outbox: one "@", no whitespace, angle brackets, commas, semicolons or quotes. */
const EMAIL_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ServerError("BAD_REQUEST", message);
}

export function addAgency(ctx: ServerContext, actor: Actor | null, a: AgencyDto): AgencyDto {
  need(CODE_RE.test(a.code ?? ""), "Agency code: letters, digits, '.', '_' or '-', at most 64.");
  need(typeof a.name === "string" && a.name.trim() !== "", "Agency name is required.");
  need(EMAIL_RE.test(a.email ?? ""), "Agency e-mail address is not valid.");
  const cidrs = validateCidrs(a.allowCidrs ?? []);
  return ctx.db.transaction(() => {
    if (ctx.db.prepare("SELECT 1 FROM agencies WHERE code = ?").get(a.code)) {
      throw new ServerError("CONFLICT", `Agency ${a.code} is already registered.`);
    }
    ctx.db
      .prepare("INSERT INTO agencies (code, name, email, allow_cidrs, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(a.code, a.name.trim(), a.email, JSON.stringify(cidrs), now());
    appendAudit(ctx.db, { ...auditOf(actor), action: "agency.add", detail: { code: a.code, allowCidrs: cidrs } });
    return getAgency(ctx.db, a.code);
  })();
}

export function updateAgency(
  ctx: ServerContext,
  actor: Actor | null,
  code: string,
  patch: Partial<Pick<AgencyDto, "name" | "email" | "allowCidrs">>,
): AgencyDto {
  need(typeof patch === "object" && patch !== null, "The change must be a JSON object.");
  if (patch.name !== undefined) {
    need(typeof patch.name === "string" && patch.name.trim() !== "", "Agency name must be non-empty text.");
  }
  if (patch.email !== undefined) {
    need(typeof patch.email === "string" && EMAIL_RE.test(patch.email), "Agency e-mail address is not valid.");
  }
  if (patch.allowCidrs !== undefined) {
    need(
      Array.isArray(patch.allowCidrs) && patch.allowCidrs.every((c) => typeof c === "string"),
      "allowCidrs must be a list of address ranges.",
    );
    validateCidrs(patch.allowCidrs);
  }
  return ctx.db.transaction(() => {
    const cur = getAgency(ctx.db, code);
    const next = {
      ...cur,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.email !== undefined ? { email: patch.email } : {}),
      ...(patch.allowCidrs !== undefined ? { allowCidrs: patch.allowCidrs } : {}),
    };
    ctx.db
      .prepare("UPDATE agencies SET name = ?, email = ?, allow_cidrs = ? WHERE code = ?")
      .run(next.name, next.email, JSON.stringify(next.allowCidrs), code);
    // Only the fields that were applied go into the audit entry (never whatever else the request carried).
    const changed = {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.email !== undefined ? { email: patch.email } : {}),
      ...(patch.allowCidrs !== undefined ? { allowCidrs: patch.allowCidrs } : {}),
    };
    appendAudit(ctx.db, { ...auditOf(actor), action: "agency.update", detail: { code, ...changed } });
    return next;
  })();
}

/**
 * Withdraws an agency: its staff's tokens are deleted, they can no longer log in or act, and it can no longer be
 * chosen as a receiving agency. Cases, files, receipts and the audit trail stay.
 */
export function deactivateAgency(ctx: ServerContext, actor: Actor | null, code: string): AgencyDto {
  return ctx.db.transaction(() => {
    const cur = getAgency(ctx.db, code);
    if (!cur.active) throw new ServerError("CONFLICT", `Agency ${code} is already withdrawn.`);
    if (actor && actor.agency === code) {
      throw new ServerError("BAD_REQUEST", "You cannot withdraw your own agency.", {
        hint: "Ask another administrator.",
      });
    }
    ctx.db.prepare("UPDATE agencies SET active = 0 WHERE code = ?").run(code);
    ctx.db.prepare("DELETE FROM tokens WHERE staff_id IN (SELECT id FROM staff WHERE agency = ?)").run(code);
    appendAudit(ctx.db, { ...auditOf(actor), action: "agency.deactivate", detail: { code } });
    return getAgency(ctx.db, code);
  })();
}

export function getAgency(db: Database.Database, code: string): AgencyDto {
  const r = db.prepare("SELECT * FROM agencies WHERE code = ?").get(code) as AgencyRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No agency with code ${code}.`);
  return agencyDto(r);
}

export function listAgencies(db: Database.Database): AgencyDto[] {
  return (db.prepare("SELECT * FROM agencies ORDER BY code").all() as AgencyRow[]).map(agencyDto);
}

interface StaffRow {
  id: string;
  agency: string;
  name: string;
  email: string;
  role: Role;
  active: number;
}
export const staffDto = (r: StaffRow): StaffDto => ({
  id: r.id,
  agency: r.agency,
  name: r.name,
  email: r.email,
  role: r.role,
  active: r.active === 1,
});

export function addStaff(
  ctx: ServerContext,
  actor: Actor | null,
  s: { agency: string; name: string; email: string; role?: Role },
): StaffDto {
  need(typeof s.name === "string" && s.name.trim() !== "", "Staff name is required.");
  need(EMAIL_RE.test(s.email ?? ""), "Staff e-mail address is not valid.");
  const role = s.role ?? "staff";
  need(["staff", "admin", "ops"].includes(role), "Role must be staff, admin or ops.");
  return ctx.db.transaction(() => {
    getAgency(ctx.db, s.agency);
    if (ctx.db.prepare("SELECT 1 FROM staff WHERE email = ?").get(s.email)) {
      throw new ServerError("CONFLICT", `A staff member with e-mail ${s.email} is already registered.`);
    }
    const id = randomUUID();
    ctx.db
      .prepare("INSERT INTO staff (id, agency, name, email, role, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)")
      .run(id, s.agency, s.name.trim(), s.email, role, now());
    appendAudit(ctx.db, {
      ...auditOf(actor),
      action: "staff.add",
      detail: { id, agency: s.agency, email: s.email, role },
    });
    return getStaff(ctx.db, id);
  })();
}

export function setStaffActive(ctx: ServerContext, actor: Actor | null, idOrEmail: string, active: boolean): StaffDto {
  return ctx.db.transaction(() => {
    const s = findStaff(ctx.db, idOrEmail);
    ctx.db.prepare("UPDATE staff SET active = ? WHERE id = ?").run(active ? 1 : 0, s.id);
    if (!active) ctx.db.prepare("DELETE FROM tokens WHERE staff_id = ?").run(s.id);
    appendAudit(ctx.db, {
      ...auditOf(actor),
      action: active ? "staff.activate" : "staff.deactivate",
      detail: { id: s.id, email: s.email },
    });
    return getStaff(ctx.db, s.id);
  })();
}

export function getStaff(db: Database.Database, id: string): StaffDto {
  const r = db.prepare("SELECT * FROM staff WHERE id = ?").get(id) as StaffRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No staff member ${id}.`);
  return staffDto(r);
}

/** A staff member by id or e-mail address. */
export function findStaff(db: Database.Database, idOrEmail: string): StaffDto {
  const r = db.prepare("SELECT * FROM staff WHERE id = ? OR email = ?").get(idOrEmail, idOrEmail) as
    | StaffRow
    | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No staff member ${idOrEmail}.`);
  return staffDto(r);
}

export function listStaff(db: Database.Database, agency?: string): StaffDto[] {
  const rows = agency
    ? db.prepare("SELECT * FROM staff WHERE agency = ? ORDER BY agency, email").all(agency)
    : db.prepare("SELECT * FROM staff ORDER BY agency, email").all();
  return (rows as StaffRow[]).map(staffDto);
}

export interface CertRow {
  id: string;
  staff_id: string;
  purpose: CertPurpose;
  status: CertStatus;
  sha256: string;
  der: Buffer;
  chain_pem: string;
  subject: string;
  common_name: string;
  issuer: string;
  serial_hex: string;
  ski_hex: string | null;
  not_before: string;
  not_after: string;
}

export const certDto = (r: CertRow): CertificateDto => ({
  id: r.id,
  staffId: r.staff_id,
  purpose: r.purpose,
  status: r.status,
  sha256: r.sha256,
  subject: r.subject,
  commonName: r.common_name,
  issuer: r.issuer,
  serialHex: r.serial_hex,
  ...(r.ski_hex ? { subjectKeyIdHex: r.ski_hex } : {}),
  notBefore: r.not_before,
  notAfter: r.not_after,
  pem: certificateToPem(parseCertificate(new Uint8Array(r.der))) + r.chain_pem,
});

/** The parsed certificate of a row, and the chain it was registered with. */
export function certOf(r: CertRow): { cert: CertInfo; chain: CertInfo[] } {
  return {
    cert: parseCertificate(new Uint8Array(r.der)),
    chain: r.chain_pem ? parseCertificates(r.chain_pem) : [],
  };
}

/** The purpose a certificate's keyUsage allows: keyEncipherment => encrypt; digitalSignature/nonRepudiation => sign. */
export function purposeOf(cert: CertInfo): CertPurpose | undefined {
  const ku = cert.keyUsage;
  if (!ku) return undefined;
  if (ku.has("keyEncipherment")) return "encrypt";
  if (ku.has("digitalSignature") || ku.has("nonRepudiation")) return "sign";
  return undefined;
}

/**
 * Validates a certificate for `purpose` with the trust policy (chain, key usage, validity now, revocation). Throws
 * ServerError CERT_REJECTED naming the PKI reason (details.pkiCode).
 */
export async function validateCert(ctx: ServerContext, cert: CertInfo, purpose: CertPurpose, chain: CertInfo[] = []) {
  try {
    return await ctx.trust.validate(cert, { purpose, intermediates: [...chain, ...ctx.intermediates] });
  } catch (e) {
    if (e instanceof PkiError) {
      throw new ServerError("CERT_REJECTED", `Certificate of ${cert.commonName || cert.subject}: ${e.message}`, {
        cause: e,
        details: { pkiCode: e.code, sha256: cert.sha256 },
        ...(e.hint ? { hint: e.hint } : {}),
      });
    }
    throw e;
  }
}

/**
 * Registers a certificate (PEM: the certificate first, then optionally its chain) for a staff member. The purpose
 * comes from the keyUsage unless given. Validated against the trust policy first; CONFLICT if already registered.
 */
export async function addCertificate(
  ctx: ServerContext,
  actor: Actor | null,
  body: { staff: string; pem: string; purpose?: CertPurpose },
): Promise<CertificateDto> {
  let certs: CertInfo[];
  try {
    certs = parseCertificates(body.pem ?? "");
  } catch (e) {
    throw new ServerError("BAD_REQUEST", "The certificate is not readable PEM.", { cause: e });
  }
  const [cert, ...chain] = certs;
  need(cert, "No certificate in the PEM text.");
  const purpose = body.purpose ?? purposeOf(cert);
  if (purpose !== "sign" && purpose !== "encrypt") {
    throw new ServerError("CERT_REJECTED", "The certificate allows neither signing nor key encipherment.", {
      details: { pkiCode: "KEY_USAGE" },
    });
  }
  const staff = findStaff(ctx.db, body.staff);
  await validateCert(ctx, cert, purpose, chain);
  return ctx.db.transaction(() => {
    if (ctx.db.prepare("SELECT 1 FROM certificates WHERE sha256 = ?").get(cert.sha256)) {
      throw new ServerError("CONFLICT", "This certificate is already registered.", {
        details: { sha256: cert.sha256 },
      });
    }
    const id = randomUUID();
    ctx.db
      .prepare(
        `INSERT INTO certificates (id, staff_id, purpose, status, sha256, der, chain_pem, subject, common_name, issuer,
           serial_hex, ski_hex, not_before, not_after, created_at)
         VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        staff.id,
        purpose,
        cert.sha256,
        Buffer.from(cert.der),
        chain.map(certificateToPem).join(""),
        cert.subject,
        cert.commonName,
        cert.issuer,
        cert.serialHex,
        cert.subjectKeyIdHex ?? null,
        cert.notBefore.toISOString(),
        cert.notAfter.toISOString(),
        now(),
      );
    appendAudit(ctx.db, {
      ...auditOf(actor),
      action: "cert.add",
      detail: { id, staff: staff.id, purpose, sha256: cert.sha256, serialHex: cert.serialHex, issuer: cert.issuer },
    });
    return getCertificate(ctx.db, id);
  })();
}

export function getCertificate(db: Database.Database, idOrSha: string): CertificateDto {
  return certDto(getCertRow(db, idOrSha));
}

export function getCertRow(db: Database.Database, idOrSha: string): CertRow {
  const r = db.prepare("SELECT * FROM certificates WHERE id = ? OR sha256 = ?").get(idOrSha, idOrSha.toLowerCase()) as
    | CertRow
    | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No registered certificate ${idOrSha}.`);
  return r;
}

/**
 * Marks certificates past notAfter as expired (called before certificates are used), each with an audit entry
 * `cert.expire` by actor "system" (certificate id, SHA-256, staff, purpose, notAfter), in one transaction.
 */
export function expireCertificates(db: Database.Database): void {
  const t = now();
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
        ...auditOf(null),
        agency: staff?.agency ?? null,
        action: "cert.expire",
        detail: { certId: r.id, sha256: r.sha256, staffId: r.staff_id, purpose: r.purpose, notAfter: r.not_after },
      });
    }
  })();
}

export function listCertificates(db: Database.Database, staff?: string): CertificateDto[] {
  expireCertificates(db);
  const rows = staff
    ? db.prepare("SELECT * FROM certificates WHERE staff_id = ? ORDER BY created_at").all(findStaff(db, staff).id)
    : db.prepare("SELECT * FROM certificates ORDER BY staff_id, created_at").all();
  return (rows as CertRow[]).map(certDto);
}

/** Active certificate rows of one staff member for one purpose. */
export function activeCertRows(db: Database.Database, staffId: string, purpose: CertPurpose): CertRow[] {
  expireCertificates(db);
  return db
    .prepare("SELECT * FROM certificates WHERE staff_id = ? AND purpose = ? AND status = 'active' ORDER BY created_at")
    .all(staffId, purpose) as CertRow[];
}

export function revokeCertificate(
  ctx: ServerContext,
  actor: Actor | null,
  idOrSha: string,
  reason: unknown,
): CertificateDto {
  need(typeof reason === "string" && reason.length <= 1000, "The reason must be text of at most 1000 characters.");
  return ctx.db.transaction(() => {
    const r = getCertRow(ctx.db, idOrSha);
    if (r.status === "revoked") throw new ServerError("CONFLICT", "This certificate is already revoked.");
    ctx.db
      .prepare("UPDATE certificates SET status = 'revoked', revoked_at = ?, revoke_reason = ? WHERE id = ?")
      .run(now(), reason || "unspecified", r.id);
    ctx.db.prepare("DELETE FROM tokens WHERE cert_id = ?").run(r.id);
    appendAudit(ctx.db, {
      ...auditOf(actor),
      action: "cert.revoke",
      detail: { id: r.id, staff: r.staff_id, sha256: r.sha256, reason: reason || "unspecified" },
    });
    return getCertificate(ctx.db, r.id);
  })();
}

interface CategoryRow {
  code: string;
  name: string;
  purpose: string;
  active: number;
}
const categoryDto = (r: CategoryRow): CategoryDto => ({
  code: r.code,
  name: r.name,
  purpose: r.purpose,
  active: r.active === 1,
});

export function addCategory(ctx: ServerContext, actor: Actor | null, c: Omit<CategoryDto, "active">): CategoryDto {
  need(CODE_RE.test(c.code ?? ""), "Category code: letters, digits, '.', '_' or '-', at most 64.");
  need(typeof c.name === "string" && c.name.trim() !== "", "Category name is required.");
  need(typeof c.purpose === "string" && c.purpose.trim() !== "", "The lawful purpose of the category is required.");
  return ctx.db.transaction(() => {
    if (ctx.db.prepare("SELECT 1 FROM categories WHERE code = ?").get(c.code)) {
      throw new ServerError("CONFLICT", `Category ${c.code} already exists.`);
    }
    ctx.db
      .prepare("INSERT INTO categories (code, name, purpose, active, created_at) VALUES (?, ?, ?, 1, ?)")
      .run(c.code, c.name.trim(), c.purpose.trim(), now());
    appendAudit(ctx.db, { ...auditOf(actor), action: "category.add", detail: { code: c.code } });
    return getCategory(ctx.db, c.code);
  })();
}

export function deactivateCategory(ctx: ServerContext, actor: Actor | null, code: string): CategoryDto {
  return ctx.db.transaction(() => {
    getCategory(ctx.db, code);
    ctx.db.prepare("UPDATE categories SET active = 0 WHERE code = ?").run(code);
    appendAudit(ctx.db, { ...auditOf(actor), action: "category.deactivate", detail: { code } });
    return getCategory(ctx.db, code);
  })();
}

export function getCategory(db: Database.Database, code: string): CategoryDto {
  const r = db.prepare("SELECT * FROM categories WHERE code = ?").get(code) as CategoryRow | undefined;
  if (!r) throw new ServerError("NOT_FOUND", `No transfer category ${code}.`);
  return categoryDto(r);
}

export function listCategories(db: Database.Database): CategoryDto[] {
  return (db.prepare("SELECT * FROM categories ORDER BY code").all() as CategoryRow[]).map(categoryDto);
}

/** The registry as its routes and the other domains see it. `actor` null: the system (init). */
export interface RegistryService {
  listAgencies(): Promise<AgencyDto[]>;
  addAgency(actor: Actor | null, a: AgencyDto): Promise<AgencyDto>;
  updateAgency(
    actor: Actor | null,
    code: string,
    patch: Partial<Pick<AgencyDto, "name" | "email" | "allowCidrs">>,
  ): Promise<AgencyDto>;
  deactivateAgency(actor: Actor | null, code: string): Promise<AgencyDto>;
  listStaff(agency?: string): Promise<StaffDto[]>;
  addStaff(actor: Actor | null, s: { agency: string; name: string; email: string; role?: Role }): Promise<StaffDto>;
  setStaffActive(actor: Actor | null, idOrEmail: string, active: boolean): Promise<StaffDto>;
  listCertificates(staff?: string): Promise<CertificateDto[]>;
  addCertificate(
    actor: Actor | null,
    body: { staff: string; pem: string; purpose?: CertPurpose },
  ): Promise<CertificateDto>;
  revokeCertificate(actor: Actor | null, idOrSha: string, reason: unknown): Promise<CertificateDto>;
  listCategories(): Promise<CategoryDto[]>;
  addCategory(actor: Actor | null, c: Omit<CategoryDto, "active">): Promise<CategoryDto>;
  deactivateCategory(actor: Actor | null, code: string): Promise<CategoryDto>;
}

export function createRegistryService(ctx: ServerContext): RegistryService {
  return {
    listAgencies: async () => listAgencies(ctx.db),
    addAgency: async (actor, a) => addAgency(ctx, actor, a),
    updateAgency: async (actor, code, patch) => updateAgency(ctx, actor, code, patch),
    deactivateAgency: async (actor, code) => deactivateAgency(ctx, actor, code),
    listStaff: async (agency) => listStaff(ctx.db, agency),
    addStaff: async (actor, s) => addStaff(ctx, actor, s),
    setStaffActive: async (actor, id, active) => setStaffActive(ctx, actor, id, active),
    listCertificates: async (staff) => listCertificates(ctx.db, staff),
    addCertificate: (actor, body) => addCertificate(ctx, actor, body),
    revokeCertificate: async (actor, id, reason) => revokeCertificate(ctx, actor, id, reason),
    listCategories: async () => listCategories(ctx.db),
    addCategory: async (actor, c) => addCategory(ctx, actor, c),
    deactivateCategory: async (actor, code) => deactivateCategory(ctx, actor, code),
  };
}

import { randomUUID } from "node:crypto";
import type {
  AgencyDto,
  CategoryDto,
  CertificateCheckDto,
  CertificateCheckRequest,
  CertificateDto,
  CertPurpose,
  NewAgency,
  Role,
  StaffDto,
} from "@sealpost/protocol";
import {
  type CertInfo,
  certificateIdentity,
  certificateToPem,
  parseCertificates,
  parseSubjectRule,
  personBindingProblems,
  type SubjectRule,
  subjectRuleText,
} from "@sealpost/pki";
import type { AuditEntryInput } from "../audit/log.js";
import type { Clock } from "../clock.js";
import type { Actor } from "../context.js";
import type { Db } from "../db/db.js";
import { isUniqueViolation } from "../db/sql.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { type CertificateValidator, certDto, purposeOf } from "./certificates.js";
import { checkCertificate } from "./check.js";
import { ipAllowed, validateCidrs } from "./cidr.js";
import { agencyDto, categoryDto, staffDto, subjectRulesOf } from "./dto.js";
import type { CertRow } from "./repository.js";

/**
 * The registry: agencies, staff, their certificates, and transfer categories. Every change is audited in its own
 * transaction. Certificates are validated against the server's trust policy (chain, key usage, validity,
 * revocation) when registered and again whenever they are used.
 */

const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The same rule as the mail outbox: one "@", no whitespace, angle brackets, commas, semicolons or quotes. */
const EMAIL_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ServerError("BAD_REQUEST", message);
}

/** Parses an agency's subject rules ("O=高雄市稅捐稽徵處"); duplicates are dropped. BAD_REQUEST naming a bad one. */
function validateSubjectRules(rules: unknown): SubjectRule[] {
  need(
    Array.isArray(rules) && rules.length <= 20 && rules.every((r) => typeof r === "string"),
    "subjectRules must be a list of at most 20 texts ATTR=VALUE.",
  );
  const out: SubjectRule[] = [];
  for (const text of rules as string[]) {
    const r = parseSubjectRule(text);
    if (!r) {
      throw new ServerError("BAD_REQUEST", `Not a subject rule: ${JSON.stringify(text.slice(0, 100))}.`, {
        hint: 'Write ATTR=VALUE, e.g. "O=高雄市稅捐稽徵處" or "OU=KHH-TAX".',
      });
    }
    if (!out.some((o) => subjectRuleText(o) === subjectRuleText(r))) out.push(r);
  }
  return out;
}

/** Who an audit entry names for a registry change: the admin, or "system" (init, expiry). */
function auditOf(actor: Actor | null): Pick<AuditEntryInput, "actor" | "role" | "agency" | "source"> {
  return {
    actor: actor?.staffId ?? "system",
    role: actor?.role ?? "system",
    agency: actor?.agency ?? null,
    source: actor?.source ?? null,
  };
}

/**
 * Marks every active certificate past its notAfter expired, each with an audit entry "cert.expire" by "system"
 * (certificate id, SHA-256, staff, purpose, notAfter), inside the caller's transaction. Run before certificates are
 * used. A certificate another transaction expired first is skipped (the conditional UPDATE changes no row).
 */
export async function expireDueCertificates(uow: UnitOfWork, now: Date): Promise<void> {
  for (const r of await uow.registry.expiredButActive(now.toISOString())) {
    if (!(await uow.registry.markExpired(r.id))) continue;
    await uow.audit.append(
      {
        ...auditOf(null),
        agency: r.agency ?? null,
        action: "cert.expire",
        detail: { certId: r.id, sha256: r.sha256, staffId: r.staff_id, purpose: r.purpose, notAfter: r.not_after },
      },
      now,
    );
  }
}

/** The staff member's active certificates for `purpose`, after expiring the due ones (inside a transaction). */
export async function activeCertificates(
  uow: UnitOfWork,
  now: Date,
  staffId: string,
  purpose: CertPurpose,
): Promise<CertRow[]> {
  await expireDueCertificates(uow, now);
  return uow.registry.activeCertificates(staffId, purpose);
}

/** The registry as its routes and the other domains see it. `actor` null: the system (init). */
export interface RegistryService {
  listAgencies(): Promise<AgencyDto[]>;
  getAgency(code: string): Promise<AgencyDto>;
  addAgency(actor: Actor | null, a: NewAgency): Promise<AgencyDto>;
  updateAgency(
    actor: Actor | null,
    code: string,
    patch: Partial<Pick<AgencyDto, "name" | "email" | "allowCidrs" | "subjectRules">> & { force?: boolean },
  ): Promise<AgencyDto>;
  deactivateAgency(actor: Actor | null, code: string): Promise<AgencyDto>;
  listStaff(agency?: string): Promise<StaffDto[]>;
  /** A staff member by id or e-mail address (NOT_FOUND otherwise). */
  findStaff(idOrEmail: string): Promise<StaffDto>;
  addStaff(actor: Actor | null, s: { agency: string; name: string; email: string; role?: Role }): Promise<StaffDto>;
  setStaffActive(actor: Actor | null, idOrEmail: string, active: boolean): Promise<StaffDto>;
  listCertificates(staff?: string): Promise<CertificateDto[]>;
  addCertificate(
    actor: Actor | null,
    body: { staff: string; pem: string; purpose?: CertPurpose },
  ): Promise<CertificateDto>;
  /** A certificate as registration would see it, without registering it (see check.ts). */
  checkCertificate(body: CertificateCheckRequest): Promise<CertificateCheckDto>;
  revokeCertificate(actor: Actor | null, idOrSha: string, reason: unknown): Promise<CertificateDto>;
  listCategories(): Promise<CategoryDto[]>;
  addCategory(actor: Actor | null, c: Omit<CategoryDto, "active">): Promise<CategoryDto>;
  deactivateCategory(actor: Actor | null, code: string): Promise<CategoryDto>;
}

/** What the registry service works with. */
export interface RegistryDeps {
  db: Db;
  clock: Clock;
  validator: CertificateValidator;
}

/**
 * Throws CERT_NOT_PERSON when `cert` is not bound to `staff` under the agency's `rules`; the message and details
 * show the certificate's subject and e-mail addresses beside the staff record and the rules, and each failed check.
 */
function assertBoundToPerson(cert: CertInfo, staff: StaffDto, rules: SubjectRule[]): void {
  const id = certificateIdentity(cert);
  const problems = personBindingProblems(id, staff, rules);
  if (problems.length === 0) return;
  throw new ServerError(
    "CERT_NOT_PERSON",
    `The certificate (subject ${id.subject}${id.emails.length ? `, e-mail ${id.emails.join(", ")}` : ""}) is not bound to staff member ${staff.name} <${staff.email}> of ${staff.agency}: ${problems.map((p) => p.message).join("; ")}.`,
    {
      hint: "Register the staff member's own certificate; if the staff record is wrong, correct it first. The agency's subject rules: sealpost admin agency list.",
      details: {
        certificate: { subject: id.subject, commonName: id.commonName, emails: id.emails, sha256: cert.sha256 },
        staff: { id: staff.id, name: staff.name, email: staff.email, agency: staff.agency },
        agencySubjectRules: rules.map(subjectRuleText),
        problems,
      },
    },
  );
}

export function createRegistryService(deps: RegistryDeps): RegistryService {
  const { db, clock, validator } = deps;

  const agencyOf = async (uow: UnitOfWork, code: string) => {
    const r = await uow.registry.agency(code);
    if (!r) throw new ServerError("NOT_FOUND", `No agency with code ${code}.`);
    return agencyDto(r);
  };
  const staffOf = async (uow: UnitOfWork, idOrEmail: string) => {
    const r = await uow.registry.staffByIdOrEmail(idOrEmail);
    if (!r) throw new ServerError("NOT_FOUND", `No staff member ${idOrEmail}.`);
    return staffDto(r);
  };
  const certificateOf = async (uow: UnitOfWork, idOrSha: string) => {
    const r = await uow.registry.certificate(idOrSha);
    if (!r) throw new ServerError("NOT_FOUND", `No registered certificate ${idOrSha}.`);
    return r;
  };
  const categoryOf = async (uow: UnitOfWork, code: string) => {
    const r = await uow.registry.category(code);
    if (!r) throw new ServerError("NOT_FOUND", `No transfer category ${code}.`);
    return categoryDto(r);
  };
  /** A concurrent insert of the same key (another request, another instance) is a CONFLICT like a plain duplicate. */
  const conflictOnDuplicate = async <T>(message: string, run: () => Promise<T>, details?: Record<string, unknown>) => {
    try {
      return await run();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ServerError("CONFLICT", message, details ? { details } : {});
      throw e;
    }
  };

  return {
    listAgencies: () => db.read(async (uow) => (await uow.registry.agencies()).map(agencyDto)),
    getAgency: (code) => db.read((uow) => agencyOf(uow, code)),

    async addAgency(actor, a) {
      need(CODE_RE.test(a?.code ?? ""), "Agency code: letters, digits, '.', '_' or '-', at most 64.");
      need(typeof a.name === "string" && a.name.trim() !== "", "Agency name is required.");
      need(EMAIL_RE.test(a.email ?? ""), "Agency e-mail address is not valid.");
      const cidrs = validateCidrs(a.allowCidrs ?? []);
      const rules = validateSubjectRules(a.subjectRules ?? []);
      const message = `Agency ${a.code} is already registered.`;
      return conflictOnDuplicate(message, () =>
        db.tx(async (uow) => {
          if (await uow.registry.agency(a.code)) throw new ServerError("CONFLICT", message);
          const now = clock.now();
          await uow.registry.insertAgency({
            code: a.code,
            name: a.name.trim(),
            email: a.email,
            allow_cidrs: JSON.stringify(cidrs),
            subject_rules: JSON.stringify(rules),
            created_at: now.toISOString(),
          });
          await uow.audit.append(
            {
              ...auditOf(actor),
              action: "agency.add",
              detail: { code: a.code, allowCidrs: cidrs, subjectRules: rules.map(subjectRuleText) },
            },
            now,
          );
          return agencyOf(uow, a.code);
        }),
      );
    },

    async updateAgency(actor, code, patch) {
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
      need(patch.force === undefined || typeof patch.force === "boolean", "force must be true or false.");
      // An allow-list of the admin's own agency that leaves out the address the admin acts from would lock them out
      // (their next request is refused): only on purpose (force).
      if (
        patch.allowCidrs !== undefined &&
        actor?.source &&
        actor.agency === code &&
        !patch.force &&
        !ipAllowed(actor.source, patch.allowCidrs)
      ) {
        throw new ServerError(
          "CONFLICT",
          `This allow-list would lock you out: you act from ${actor.source}, which is outside ${patch.allowCidrs.join(", ")}.`,
          {
            hint: `Include your own address (e.g. ${actor.source}) in the list, or repeat with --force (the server's operator can reset it with: sealpost-server admin reset-allow-list ${code}).`,
            details: { source: actor.source, allowCidrs: patch.allowCidrs, lockout: true },
          },
        );
      }
      const rules = patch.subjectRules !== undefined ? validateSubjectRules(patch.subjectRules) : undefined;
      return db.tx(async (uow) => {
        const cur = await agencyOf(uow, code);
        // Only the fields that were applied go into the audit entry (never whatever else the request carried).
        const changed = {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.email !== undefined ? { email: patch.email } : {}),
          ...(patch.allowCidrs !== undefined ? { allowCidrs: patch.allowCidrs } : {}),
          ...(rules !== undefined ? { subjectRules: rules.map(subjectRuleText) } : {}),
        };
        const next = { ...cur, ...changed };
        await uow.registry.updateAgency(code, {
          name: next.name,
          email: next.email,
          allow_cidrs: JSON.stringify(next.allowCidrs),
          subject_rules: JSON.stringify(rules ?? next.subjectRules.map((t) => parseSubjectRule(t)!)),
        });
        await uow.audit.append(
          {
            ...auditOf(actor),
            action: "agency.update",
            detail: { code, ...changed, ...(patch.force && patch.allowCidrs !== undefined ? { force: true } : {}) },
          },
          clock.now(),
        );
        return next;
      });
    },

    /**
     * Withdraws an agency: its staff's tokens are deleted, they can no longer log in or act, and it can no longer
     * be chosen as a receiving agency. Cases, files, receipts and the audit trail stay.
     */
    deactivateAgency: (actor, code) =>
      db.tx(async (uow) => {
        const cur = await agencyOf(uow, code);
        if (!cur.active) throw new ServerError("CONFLICT", `Agency ${code} is already withdrawn.`);
        if (actor && actor.agency === code) {
          throw new ServerError("BAD_REQUEST", "You cannot withdraw your own agency.", {
            hint: "Ask another administrator.",
          });
        }
        await uow.registry.setAgencyActive(code, false);
        await uow.auth.deleteTokensOfAgency(code);
        await uow.audit.append({ ...auditOf(actor), action: "agency.deactivate", detail: { code } }, clock.now());
        return agencyOf(uow, code);
      }),

    listStaff: (agency) => db.read(async (uow) => (await uow.registry.staffList(agency)).map(staffDto)),
    findStaff: (idOrEmail) => db.read((uow) => staffOf(uow, idOrEmail)),

    async addStaff(actor, s) {
      need(typeof s?.name === "string" && s.name.trim() !== "", "Staff name is required.");
      need(EMAIL_RE.test(s.email ?? ""), "Staff e-mail address is not valid.");
      const role = s.role ?? "staff";
      need(["staff", "admin", "ops"].includes(role), "Role must be staff, admin or ops.");
      const message = `A staff member with e-mail ${s.email} is already registered.`;
      return conflictOnDuplicate(message, () =>
        db.tx(async (uow) => {
          await agencyOf(uow, s.agency);
          if (await uow.registry.staffByIdOrEmail(s.email)) throw new ServerError("CONFLICT", message);
          const id = randomUUID();
          const now = clock.now();
          await uow.registry.insertStaff({
            id,
            agency: s.agency,
            name: s.name.trim(),
            email: s.email,
            role,
            created_at: now.toISOString(),
          });
          await uow.audit.append(
            { ...auditOf(actor), action: "staff.add", detail: { id, agency: s.agency, email: s.email, role } },
            now,
          );
          return staffOf(uow, id);
        }),
      );
    },

    setStaffActive: (actor, idOrEmail, active) =>
      db.tx(async (uow) => {
        const s = await staffOf(uow, idOrEmail);
        await uow.registry.setStaffActive(s.id, active);
        if (!active) await uow.auth.deleteTokensOfStaff(s.id);
        await uow.audit.append(
          {
            ...auditOf(actor),
            action: active ? "staff.activate" : "staff.deactivate",
            detail: { id: s.id, email: s.email },
          },
          clock.now(),
        );
        return staffOf(uow, s.id);
      }),

    listCertificates: (staff) =>
      db.tx(async (uow) => {
        await expireDueCertificates(uow, clock.now());
        const staffId = staff !== undefined ? (await staffOf(uow, staff)).id : undefined;
        return (await uow.registry.certificates(staffId)).map(certDto);
      }),

    /**
     * Registers a certificate (PEM: the certificate first, then optionally its chain) for a staff member. The
     * purpose comes from the keyUsage unless given. Validated against the trust policy first (CERT_REJECTED), then
     * bound to the person (CERT_NOT_PERSON: CN equals the staff member's name, the subject carries each of the
     * agency's subject rules, every e-mail address it names equals theirs; see @sealpost/pki identity.ts); CONFLICT
     * if already registered.
     */
    async addCertificate(actor, body) {
      let certs: CertInfo[];
      try {
        certs = parseCertificates(body?.pem ?? "");
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
      const { staff, rules } = await db.read(async (uow) => {
        const st = await staffOf(uow, body.staff);
        const ag = await uow.registry.agency(st.agency);
        return { staff: st, rules: ag ? subjectRulesOf(ag) : [] };
      });
      await validator.validate(cert, purpose, chain);
      assertBoundToPerson(cert, staff, rules);
      const message = "This certificate is already registered.";
      return conflictOnDuplicate(
        message,
        () =>
          db.tx(async (uow) => {
            if (await uow.registry.certificate(cert.sha256)) {
              throw new ServerError("CONFLICT", message, { details: { sha256: cert.sha256 } });
            }
            const id = randomUUID();
            const now = clock.now();
            await uow.registry.insertCertificate({
              id,
              staff_id: staff.id,
              purpose,
              status: "active",
              sha256: cert.sha256,
              der: Buffer.from(cert.der),
              chain_pem: chain.map(certificateToPem).join(""),
              subject: cert.subject,
              common_name: cert.commonName,
              issuer: cert.issuer,
              serial_hex: cert.serialHex,
              ski_hex: cert.subjectKeyIdHex ?? null,
              not_before: cert.notBefore.toISOString(),
              not_after: cert.notAfter.toISOString(),
              created_at: now.toISOString(),
            });
            await uow.audit.append(
              {
                ...auditOf(actor),
                action: "cert.add",
                detail: {
                  id,
                  staff: staff.id,
                  purpose,
                  sha256: cert.sha256,
                  serialHex: cert.serialHex,
                  issuer: cert.issuer,
                },
              },
              now,
            );
            return certDto(await certificateOf(uow, id));
          }),
        { sha256: cert.sha256 },
      );
    },

    checkCertificate: (body) => checkCertificate(deps, body),

    async revokeCertificate(actor, idOrSha, reason) {
      need(typeof reason === "string" && reason.length <= 1000, "The reason must be text of at most 1000 characters.");
      return db.tx(async (uow) => {
        const r = await certificateOf(uow, idOrSha);
        const why = reason || "unspecified";
        const now = clock.now();
        if (!(await uow.registry.revokeCertificate(r.id, now.toISOString(), why))) {
          throw new ServerError("CONFLICT", "This certificate is already revoked.");
        }
        await uow.auth.deleteTokensOfCertificate(r.id);
        await uow.audit.append(
          {
            ...auditOf(actor),
            action: "cert.revoke",
            detail: { id: r.id, staff: r.staff_id, sha256: r.sha256, reason: why },
          },
          now,
        );
        return certDto(await certificateOf(uow, r.id));
      });
    },

    listCategories: () => db.read(async (uow) => (await uow.registry.categories()).map(categoryDto)),

    async addCategory(actor, c) {
      need(CODE_RE.test(c?.code ?? ""), "Category code: letters, digits, '.', '_' or '-', at most 64.");
      need(typeof c.name === "string" && c.name.trim() !== "", "Category name is required.");
      need(typeof c.purpose === "string" && c.purpose.trim() !== "", "The lawful purpose of the category is required.");
      const message = `Category ${c.code} already exists.`;
      return conflictOnDuplicate(message, () =>
        db.tx(async (uow) => {
          if (await uow.registry.category(c.code)) throw new ServerError("CONFLICT", message);
          const now = clock.now();
          await uow.registry.insertCategory({
            code: c.code,
            name: c.name.trim(),
            purpose: c.purpose.trim(),
            created_at: now.toISOString(),
          });
          await uow.audit.append({ ...auditOf(actor), action: "category.add", detail: { code: c.code } }, now);
          return categoryOf(uow, c.code);
        }),
      );
    },

    deactivateCategory: (actor, code) =>
      db.tx(async (uow) => {
        await categoryOf(uow, code);
        await uow.registry.setCategoryActive(code, false);
        await uow.audit.append({ ...auditOf(actor), action: "category.deactivate", detail: { code } }, clock.now());
        return categoryOf(uow, code);
      }),
  };
}

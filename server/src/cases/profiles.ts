import type { ProfileRecipient, TransferProfile } from "@sealpost/protocol";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { certDto, certOf } from "../registry/certificates.js";
import { staffDto } from "../registry/dto.js";
import type { CertRow } from "../registry/repository.js";
import { activeCertificates } from "../registry/service.js";
import { rosterCertificates } from "../rosters/service.js";
import type { CaseDeps } from "./deps.js";
import { caseDto } from "./dto.js";
import type { CaseRow } from "./repository.js";

/**
 * Which certificates a case's files are sealed to, and the transfer profiles that list them: every active
 * encryption certificate of the chosen staff that validates now (card renewal: several per person are all
 * included). Certificates that no longer validate are skipped (logged).
 */

/**
 * The active encryption certificates of each staff member in `staffIds`, read in one transaction (expiring due ones
 * first), then validated outside it: the validation is CPU work that must not hold a transaction. Returns them per
 * staff member, in the order given.
 */
export async function validEncryptionCerts(deps: CaseDeps, staffIds: string[]): Promise<Map<string, CertRow[]>> {
  const now = deps.clock.now();
  const active = await deps.db.tx(async (uow) => {
    const out = new Map<string, CertRow[]>();
    for (const id of staffIds) if (!out.has(id)) out.set(id, await activeCertificates(uow, now, id, "encrypt"));
    return out;
  });
  const valid = new Map<string, CertRow[]>();
  for (const id of staffIds) {
    const ok: CertRow[] = [];
    for (const r of active.get(id) ?? []) {
      const { cert, chain } = certOf(r);
      try {
        await deps.validator.validate(cert, "encrypt", chain);
        ok.push(r);
      } catch (e) {
        deps.log.warn("skipping a registered encryption certificate that no longer validates", {
          staffId: id,
          certSha256: r.sha256,
          reason: e instanceof ServerError ? (e.details?.pkiCode ?? e.code) : String(e),
        });
      }
    }
    valid.set(id, ok);
  }
  return valid;
}

/**
 * The result's recipients now: every valid encryption certificate of the sending agency's active staff, and only
 * those on the sending agency's signed roster when it has one.
 */
export async function resultRecipientCerts(deps: CaseDeps, c: CaseRow): Promise<CertRow[]> {
  const { staff, roster } = await deps.db.read(async (uow) => ({
    staff: await uow.registry.activeStaffOf(c.sender_agency, "staff"),
    roster: await rosterCertificates(uow, c.sender_agency),
  }));
  const certs = await validEncryptionCerts(
    deps,
    staff.map((s) => s.id),
  );
  return staff.flatMap((s) => certs.get(s.id) ?? []).filter((r) => !roster || roster.has(r.sha256));
}

/** Profile entries for certificate rows: each with its staff member's name, e-mail and agency. */
export async function recipientsOf(uow: UnitOfWork, rows: CertRow[]): Promise<ProfileRecipient[]> {
  const out: ProfileRecipient[] = [];
  for (const r of rows) {
    const row = await uow.registry.staff(r.staff_id);
    if (!row) throw new ServerError("NOT_FOUND", `No staff member ${r.staff_id}.`);
    const s = staffDto(row);
    out.push({ staffId: s.id, name: s.name, email: s.email, agency: s.agency, certificate: certDto(r) });
  }
  return out;
}

/** The transfer profile of a case: the case and the payload's recipient certificates. */
export async function payloadProfile(uow: UnitOfWork, c: CaseRow): Promise<TransferProfile> {
  return { case: caseDto(c), recipients: await recipientsOf(uow, await uow.cases.payloadRecipientCerts(c.id)) };
}

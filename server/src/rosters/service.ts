import { createHash } from "node:crypto";
import { CmsError, verifyBytes } from "@sealpost/cms";
import { type CertInfo, PkiError, type TrustPolicy } from "@sealpost/pki";
import {
  type NewOfficer,
  type OfficerDto,
  parseRoster,
  RosterError,
  type RosterContent,
  type RosterDto,
  type RosterEntry,
  type RosterProposalDto,
  type RosterUpload,
  rosterChanges,
  sortRosterEntries,
} from "@sealpost/protocol";
import type { AuditEntryInput } from "../audit/log.js";
import type { Clock } from "../clock.js";
import type { Actor } from "../context.js";
import type { Db } from "../db/db.js";
import { isUniqueViolation } from "../db/sql.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { type CertificateValidator, certOf } from "../registry/certificates.js";
import { activeCertificates } from "../registry/service.js";
import type { OfficerRow, RosterRow } from "./repository.js";

/**
 * Agency-signed recipient rosters. The relay keeps each agency's officer keys (registered signing certificates an
 * admin designated) and stores the rosters officers sign; it cannot make one. A roster is stored only when its CMS
 * signature verifies with the relay's trust policy (path and revocation), its signer is a current officer of that
 * agency whose registered certificate is active, its content names that agency, and its version is greater than
 * the stored one. Cases then go only to certificates the agency's current roster lists (see `rosterCertificates`).
 */
export interface RosterService {
  listOfficers(code: string): Promise<OfficerDto[]>;
  /**
   * Makes the staff member's registered signing certificate an officer key of agency `code` (the staff member must
   * be active staff of that agency). Default certificate: the newest active signing certificate; `certSha256`
   * chooses one. CONFLICT when it already is one.
   */
  addOfficer(actor: Actor | null, code: string, body: NewOfficer): Promise<OfficerDto>;
  removeOfficer(actor: Actor | null, code: string, certSha256: string): Promise<OfficerDto>;
  /** The agency's roster with the highest version; NOT_FOUND when it has none. */
  current(code: string): Promise<RosterDto>;
  /** What the registry holds now, to be reviewed and signed as the next version. */
  proposal(code: string): Promise<RosterProposalDto>;
  /** Verifies and stores a signed roster (see the interface comment); ROSTER_REJECTED or CONFLICT otherwise. */
  store(actor: Actor, code: string, body: RosterUpload): Promise<RosterDto>;
}

/** What the roster service works with. */
export interface RosterDeps {
  db: Db;
  clock: Clock;
  /** Validates registered certificates (officer keys when added, proposal certificates). */
  validator: CertificateValidator;
  /** The relay's trust policy and intermediates: a stored roster's signer must validate with them now. */
  trust: TrustPolicy;
  intermediates: CertInfo[];
}

/**
 * SHA-256s of the certificates agency `agency`'s current roster lists, or undefined when the agency has no roster
 * yet (then its registry decides alone, as before rosters). Read inside the caller's unit of work.
 */
export function rosterCertificates(uow: UnitOfWork, agency: string): Promise<Set<string> | undefined> {
  return uow.rosters.currentCertificates(agency);
}

function auditOf(actor: Actor | null): Pick<AuditEntryInput, "actor" | "role" | "agency" | "source"> {
  return {
    actor: actor?.staffId ?? "system",
    role: actor?.role ?? "system",
    agency: actor?.agency ?? null,
    source: actor?.source ?? null,
  };
}

const officerDto = (r: OfficerRow): OfficerDto => ({
  agency: r.agency,
  staffId: r.staff_id,
  name: r.name,
  email: r.email,
  certSha256: r.cert_sha256,
  certStatus: r.cert_status,
  addedAt: r.added_at,
});

const rosterDto = (r: RosterRow): RosterDto => {
  const content = JSON.parse(r.content) as RosterContent;
  return {
    agency: r.agency,
    version: r.version,
    issuedAt: r.issued_at,
    signerSha256: r.signer_sha256,
    storedAt: r.stored_at,
    recipients: content.recipients,
    cms: Buffer.from(r.cms).toString("base64"),
  };
};

const rejected = (
  message: string,
  options: { cause?: unknown; hint?: string; details?: Record<string, unknown> } = {},
) => new ServerError("ROSTER_REJECTED", message, options);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function createRosterService(deps: RosterDeps): RosterService {
  const { db, clock, validator } = deps;

  const agencyOf = async (uow: UnitOfWork, code: string) => {
    const a = await uow.registry.agency(code);
    if (!a) throw new ServerError("NOT_FOUND", `No agency with code ${code}.`);
    return a;
  };

  /** The registry's recipients of an agency now: active staff (role staff) and their valid encryption certificates. */
  async function registryRecipients(code: string): Promise<RosterEntry[]> {
    const now = clock.now();
    const rows = await db.tx(async (uow) => {
      await agencyOf(uow, code);
      const staff = await uow.registry.activeStaffOf(code, "staff");
      const out = [];
      for (const s of staff) {
        for (const c of await activeCertificates(uow, now, s.id, "encrypt")) out.push({ s, c });
      }
      return out;
    });
    const entries: RosterEntry[] = [];
    for (const { s, c } of rows) {
      const { cert, chain } = certOf(c);
      try {
        await validator.validate(cert, "encrypt", chain);
      } catch (e) {
        if (e instanceof ServerError) continue;
        throw e;
      }
      entries.push({ staffId: s.id, name: s.name, email: s.email, certSha256: c.sha256, notAfter: c.not_after });
    }
    return sortRosterEntries(entries);
  }

  /** Verifies the CMS with the relay's trust; returns the signer and the parsed content. */
  async function readSigned(
    code: string,
    cms: Buffer,
  ): Promise<{ signer: CertInfo; content: RosterContent; bytes: Buffer }> {
    let verified: Awaited<ReturnType<typeof verifyBytes>>;
    try {
      verified = await verifyBytes(cms, { trust: deps.trust, intermediates: deps.intermediates });
    } catch (e) {
      if (e instanceof CmsError || e instanceof PkiError) {
        throw rejected(`The roster's signature does not verify: ${e.message}`, {
          cause: e,
          details: { reason: e.code },
        });
      }
      throw e;
    }
    let content: RosterContent;
    try {
      content = parseRoster(verified.content);
    } catch (e) {
      if (e instanceof RosterError) throw rejected(e.message, { cause: e, details: { reason: e.code } });
      throw e;
    }
    if (content.agency !== code) {
      throw rejected(`The roster is for agency ${content.agency}, not ${code}.`, {
        details: { reason: "WRONG_AGENCY", agency: content.agency },
      });
    }
    return { signer: verified.signer.cert, content, bytes: verified.content };
  }

  return {
    listOfficers: (code) =>
      db.read(async (uow) => {
        await agencyOf(uow, code);
        return (await uow.rosters.officers(code)).map(officerDto);
      }),

    async addOfficer(actor, code, body) {
      if (typeof body?.user !== "string" || body.user === "") throw new ServerError("BAD_REQUEST", "user is required.");
      const staff = await db.read(async (uow) => {
        await agencyOf(uow, code);
        const s = await uow.registry.staffByIdOrEmail(body.user);
        if (!s) throw new ServerError("NOT_FOUND", `No staff member ${body.user}.`);
        if (s.agency !== code) {
          throw new ServerError("BAD_REQUEST", `${s.email} is staff of agency ${s.agency}, not ${code}.`, {
            hint: "A roster officer signs for their own agency only.",
          });
        }
        if (s.active !== 1) throw new ServerError("BAD_REQUEST", `${s.email} is not active staff.`);
        return s;
      });
      const signing = await db.tx((uow) => activeCertificates(uow, clock.now(), staff.id, "sign"));
      const wanted = body.certSha256?.toLowerCase();
      const row = wanted ? signing.find((c) => c.sha256 === wanted) : signing.at(-1);
      if (!row) {
        throw new ServerError(
          "NOT_FOUND",
          wanted
            ? `${staff.email} has no active registered signing certificate ${wanted}.`
            : `${staff.email} has no active registered signing certificate.`,
          { hint: "Register the staff member's signing certificate first (sealpost admin cert add)." },
        );
      }
      const { cert, chain } = certOf(row);
      await validator.validate(cert, "sign", chain);
      try {
        return await db.tx(async (uow) => {
          const now = clock.now().toISOString();
          const before = await uow.rosters.officer(code, row.sha256);
          if (before && before.removed_at === null) {
            throw new ServerError("CONFLICT", `That certificate is already an officer key of agency ${code}.`, {
              details: { certSha256: row.sha256 },
            });
          }
          if (before) await uow.rosters.reinstateOfficer(code, row.sha256, now, actor?.staffId ?? null);
          else {
            await uow.rosters.insertOfficer({
              agency: code,
              cert_sha256: row.sha256,
              staff_id: staff.id,
              added_at: now,
              added_by: actor?.staffId ?? null,
            });
          }
          await uow.audit.append(
            {
              ...auditOf(actor),
              action: "roster.officer.add",
              detail: { agency: code, staffId: staff.id, email: staff.email, certSha256: row.sha256 },
            },
            clock.now(),
          );
          return officerDto((await uow.rosters.officer(code, row.sha256))!);
        });
      } catch (e) {
        if (isUniqueViolation(e)) {
          throw new ServerError("CONFLICT", `That certificate is already an officer key of agency ${code}.`);
        }
        throw e;
      }
    },

    removeOfficer: (actor, code, certSha256) =>
      db.tx(async (uow) => {
        await agencyOf(uow, code);
        const sha = certSha256.toLowerCase();
        if (!(await uow.rosters.removeOfficer(code, sha, clock.now().toISOString()))) {
          throw new ServerError("NOT_FOUND", `${sha} is not a current officer key of agency ${code}.`);
        }
        await uow.audit.append(
          { ...auditOf(actor), action: "roster.officer.remove", detail: { agency: code, certSha256: sha } },
          clock.now(),
        );
        return officerDto((await uow.rosters.officer(code, sha))!);
      }),

    current: (code) =>
      db.read(async (uow) => {
        await agencyOf(uow, code);
        const r = await uow.rosters.latest(code);
        if (!r) {
          throw new ServerError("NOT_FOUND", `Agency ${code} has no signed roster yet.`, {
            hint: "One of the agency's roster officers signs it with `sealpost roster sign --agency CODE`.",
            details: { reason: "NO_ROSTER" },
          });
        }
        return rosterDto(r);
      }),

    async proposal(code) {
      const recipients = await registryRecipients(code);
      const latest = await db.read((uow) => uow.rosters.latest(code));
      const current = latest ? (JSON.parse(latest.content) as RosterContent).recipients : [];
      const ch = rosterChanges(current, recipients);
      return {
        agency: code,
        currentVersion: latest?.version ?? null,
        nextVersion: (latest?.version ?? 0) + 1,
        recipients,
        pending: !latest || ch.added.length + ch.removed.length + ch.replaced.length > 0,
      };
    },

    async store(actor, code, body) {
      const text = body?.cms;
      if (typeof text !== "string" || text === "" || text.length > 4_000_000 || !BASE64.test(text)) {
        throw new ServerError("BAD_REQUEST", "cms must be the signed roster (CMS SignedData, DER) in base64.");
      }
      const cms = Buffer.from(text, "base64");
      await db.read((uow) => agencyOf(uow, code));
      const { signer, content, bytes } = await readSigned(code, cms);
      const contentSha256 = createHash("sha256").update(bytes).digest("hex");
      const stored = await db
        .tx(async (uow) => {
          await uow.rosters.lockAgency(code);
          const officer = await uow.rosters.officer(code, signer.sha256);
          if (!officer || officer.removed_at !== null) {
            throw rejected(
              `The roster is signed by ${signer.commonName || signer.subject}, who is not a roster officer of agency ${code}.`,
              {
                hint: "An admin adds officers with `sealpost admin agency officer add CODE --user EMAIL`.",
                details: { reason: "NOT_AN_OFFICER", signerSha256: signer.sha256 },
              },
            );
          }
          if (officer.cert_status !== "active") {
            throw rejected(`The officer's registered certificate is ${officer.cert_status}.`, {
              details: { reason: "OFFICER_CERT_INACTIVE", signerSha256: signer.sha256 },
            });
          }
          const latest = await uow.rosters.latest(code);
          if (latest && content.version <= latest.version) {
            throw new ServerError(
              "CONFLICT",
              `Agency ${code} already has roster version ${latest.version}; a new roster needs a higher version.`,
              { details: { currentVersion: latest.version, version: content.version } },
            );
          }
          const now = clock.now();
          await uow.rosters.insertRoster(
            {
              agency: code,
              version: content.version,
              issued_at: content.issuedAt,
              signer_sha256: signer.sha256,
              content_sha256: contentSha256,
              content: bytes.toString("utf8"),
              cms,
              stored_at: now.toISOString(),
            },
            content.recipients.map((e) => ({
              agency: code,
              version: content.version,
              staff_id: e.staffId,
              cert_sha256: e.certSha256,
            })),
          );
          await uow.audit.append(
            {
              ...auditOf(actor),
              action: "roster.store",
              detail: {
                agency: code,
                version: content.version,
                signerSha256: signer.sha256,
                contentSha256,
                recipients: content.recipients.length,
              },
            },
            now,
          );
          return (await uow.rosters.latest(code))!;
        })
        .catch((e: unknown) => {
          if (isUniqueViolation(e)) {
            throw new ServerError("CONFLICT", `Agency ${code} already has roster version ${content.version}.`);
          }
          throw e;
        });
      return rosterDto(stored);
    },
  };
}

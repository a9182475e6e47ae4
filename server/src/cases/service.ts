import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import type {
  CaseDto,
  CreateCaseRequest,
  NoteDto,
  ProfileRecipient,
  ReceiptDto,
  ReceiptRequest,
  TransferProfile,
} from "@sealpost/protocol";
import type { Actor } from "../context.js";
import type { InspectResult } from "../crypto.js";
import { ServerError } from "../errors.js";
import type { IncomingFile } from "../files/upload.js";
import { agencyDto, categoryDto, staffDto } from "../registry/dto.js";
import type { CertRow } from "../registry/repository.js";
import { auditBase } from "./audit.js";
import type { CaseDeps } from "./deps.js";
import { caseDto } from "./dto.js";
import { noticeCancelled } from "./notices.js";
import { type CaseListQuery, encodeCursor } from "./paging.js";
import { payloadProfile, recipientsOf, resultRecipientCerts, validEncryptionCerts } from "./profiles.js";
import { addReceipt, listReceipts } from "./receipts.js";
import { rosterCertificates } from "../rosters/service.js";
import { requireStaff, visibleCase } from "./rules.js";
import { acceptFile, assertCanUpload, checkEnvelope, type FileKind, recordDownload } from "./transfer.js";
import { acquireUploadLease, type UploadLease } from "./upload-lease.js";
import { transition } from "./transition.js";

export type { FileKind } from "./transfer.js";

/**
 * Transfer cases (DESIGN section 2): registration, profiles, notes, withdrawal, receipts and the case files'
 * transitions. Every change runs in one transaction of the unit of work: the state change (a conditional UPDATE,
 * see transition.ts), its audit entry and its notices. Who may act and in which state: rules.ts.
 */

/** Longest free text (remarks, cancel reason) accepted, in UTF-16 code units. */
const MAX_TEXT = 4000;

/** A new case id: date and 8 random hex digits, e.g. "C20261130-3f9a0c12". */
function newCaseId(now: Date): string {
  return `C${now.toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(4).toString("hex")}`;
}

/** Input of registerPayloadFromFile (the SFTP drops). */
export interface PulledPayload {
  caseFields: CreateCaseRequest;
  senderStaffId: string;
  /** A complete file under the store's temp folder; moved into the store or removed. */
  tempPath: string;
  sha256: string;
  size: number;
  /** Recorded as the audit entries' source (where a manual upload has the IP), e.g. "drop:taipei-social". */
  actorLabel?: string;
}

/** Transfer cases as their routes, the files domain and the drops see them. */
export interface CaseService {
  list(actor: Actor, query: CaseListQuery): Promise<{ cases: CaseDto[]; nextCursor: string | null }>;
  create(actor: Actor, req: CreateCaseRequest): Promise<TransferProfile>;
  /** The recipients `create` would register for `req` (same checks and refusals); registers nothing. */
  previewRecipients(actor: Actor, req: CreateCaseRequest): Promise<ProfileRecipient[]>;
  get(actor: Actor, id: string): Promise<CaseDto>;
  profile(actor: Actor, id: string): Promise<TransferProfile>;
  resultProfile(actor: Actor, id: string): Promise<TransferProfile>;
  addNote(actor: Actor, id: string, text: string): Promise<CaseDto>;
  cancel(actor: Actor, id: string, reason: unknown): Promise<CaseDto>;
  listReceipts(actor: Actor, id: string): Promise<ReceiptDto[]>;
  addReceipt(actor: Actor, id: string, req: ReceiptRequest): Promise<{ receipt: ReceiptDto; created: boolean }>;
  /** See transfer.ts assertCanUpload: refuses before a byte of an upload is read. */
  assertCanUpload(actor: Actor, id: string, kind: FileKind): Promise<void>;
  /**
   * See upload-lease.ts: one upload at a time per case, and a bound per staff member and relay (UPLOAD_IN_PROGRESS);
   * release it when the upload ends.
   */
  takeUploadLease(actor: Actor, id: string): Promise<UploadLease>;
  /** See transfer.ts acceptFile: checks the envelope, stores the file and records the transition. */
  acceptFile(actor: Actor, id: string, kind: FileKind, file: IncomingFile): Promise<CaseDto>;
  /** See transfer.ts recordDownload: records the download; `checkSize` may refuse before anything is recorded. */
  recordDownload(
    actor: Actor,
    id: string,
    kind: FileKind,
    range: string | undefined,
    checkSize: (size: number) => void,
  ): Promise<{ sha256: string; size: number }>;
  /**
   * For the SFTP drops: registers a case for `senderStaffId` and makes a sealed file pulled from an agency's outbox
   * its payload, exactly like a manual upload (same recipient check, same transaction, audit and notices). The
   * envelope is checked against the case's would-be recipients first: a refused file (NOT_CMS, RECIPIENTS_MISMATCH)
   * registers no case. Should the upload still fail after registration, the new case is cancelled (audited).
   */
  registerPayloadFromFile(input: PulledPayload): Promise<CaseDto>;
  /** The newest case of `agency` whose payload is the file with this SHA-256 (drops: a lost registration outcome). */
  caseByPayload(sha256: string, agency: string): Promise<string | undefined>;
}

export function createCaseService(deps: CaseDeps): CaseService {
  const { db, clock } = deps;

  /**
   * Registers a case from the sender's side and returns its transfer profile. Receivers: the given e-mail
   * addresses (each must be active staff of the receiving agency with a valid encryption certificate), by default
   * every active staff member of the receiving agency with one. The sender's own valid encryption certificates are
   * added so the sender can open the sealed file again.
   */
  async function create(actor: Actor, req: CreateCaseRequest): Promise<TransferProfile> {
    return insertCase(actor, req, await chooseRecipients(actor, req));
  }

  /**
   * Checks a new case's fields and works out its recipients, writing nothing: the receivers' valid encryption
   * certificates (filtered by the receiving agency's signed roster when it has one: certificates not on it are
   * pending roster signature and left out; a receiver named in `req.receivers` with none on it is refused with
   * NOT_ON_ROSTER) and the sender's own (filtered by the sender agency's roster likewise). Throws ServerError
   * BAD_REQUEST, NOT_FOUND, NO_RECIPIENTS or NOT_ON_ROSTER.
   */
  async function chooseRecipients(
    actor: Actor,
    req: CreateCaseRequest,
  ): Promise<{ cat: ReturnType<typeof categoryDto>; receivers: CertRow[]; own: CertRow[] }> {
    requireStaff(actor, "Only agency staff register transfer cases.");
    if (!req || typeof req.category !== "string" || typeof req.receivingAgency !== "string") {
      throw new ServerError("BAD_REQUEST", "category and receivingAgency are required.");
    }
    if (!Number.isSafeInteger(req.recordCount) || req.recordCount < 0) {
      throw new ServerError("BAD_REQUEST", "recordCount must be a whole number of records (0 or more).");
    }
    if (typeof req.uploadNo !== "string" || req.uploadNo.trim() === "" || req.uploadNo.length > 100) {
      throw new ServerError("BAD_REQUEST", "uploadNo (the upload number) is required.");
    }
    if (req.remarks !== undefined && (typeof req.remarks !== "string" || req.remarks.length > MAX_TEXT)) {
      throw new ServerError("BAD_REQUEST", `remarks must be text of at most ${MAX_TEXT} characters.`);
    }
    if (
      req.receivers !== undefined &&
      (!Array.isArray(req.receivers) || req.receivers.some((r) => typeof r !== "string" || r.length > 320))
    ) {
      throw new ServerError("BAD_REQUEST", "receivers must be a list of e-mail addresses.");
    }
    if (req.receivingAgency.trim().toUpperCase() === actor.agency.toUpperCase()) {
      throw new ServerError(
        "SAME_AGENCY",
        `You cannot send to your own agency (${actor.agency}): a transfer case goes from one agency to another.`,
        {
          hint: "Name the receiving agency's code (sealpost send --to-agency CODE); to hand a file to a colleague, use sealpost seal --to THEIR-CERT.",
          details: { agency: actor.agency },
        },
      );
    }
    const { cat, all } = await db.read(async (uow) => {
      const catRow = await uow.registry.category(req.category);
      if (!catRow) throw new ServerError("NOT_FOUND", `No transfer category ${req.category}.`);
      const agency = await uow.registry.agency(req.receivingAgency);
      if (!agency) throw new ServerError("NOT_FOUND", `No agency with code ${req.receivingAgency}.`);
      const cat = categoryDto(catRow);
      if (!cat.active) throw new ServerError("BAD_REQUEST", `Transfer category ${cat.code} is no longer in use.`);
      if (!agencyDto(agency).active) {
        throw new ServerError("BAD_REQUEST", `Agency ${req.receivingAgency} is no longer served by this relay.`);
      }
      return { cat, all: (await uow.registry.activeStaffOf(req.receivingAgency, "staff")).map(staffDto) };
    });
    let chosen = all;
    if (req.receivers && req.receivers.length > 0) {
      chosen = req.receivers.map((email) => {
        const s = all.find((x) => x.email.toLowerCase() === String(email).toLowerCase());
        if (!s) throw new ServerError("BAD_REQUEST", `${email} is not active staff of agency ${req.receivingAgency}.`);
        return s;
      });
    }
    const certs = await validEncryptionCerts(deps, [...chosen.map((s) => s.id), actor.staffId]);
    const { theirs, ours } = await db.read(async (uow) => ({
      theirs: await rosterCertificates(uow, req.receivingAgency),
      ours: await rosterCertificates(uow, actor.agency),
    }));
    const receivers: CertRow[] = [];
    for (const s of chosen) {
      const valid = certs.get(s.id) ?? [];
      const mine = theirs ? valid.filter((c) => theirs.has(c.sha256)) : valid;
      if (mine.length === 0 && valid.length > 0 && req.receivers?.length) {
        throw new ServerError(
          "NOT_ON_ROSTER",
          `${s.email} has no encryption certificate on agency ${req.receivingAgency}'s signed roster (pending roster signature).`,
          {
            hint: `One of ${req.receivingAgency}'s roster officers signs the pending changes with \`sealpost roster sign --agency ${req.receivingAgency}\`.`,
            details: { staff: s.email, agency: req.receivingAgency },
          },
        );
      }
      if (mine.length === 0 && req.receivers?.length) {
        throw new ServerError("NO_RECIPIENTS", `${s.email} has no valid registered encryption certificate.`, {
          hint: "Ask the administrator to register the staff member's current encryption certificate.",
        });
      }
      receivers.push(...mine);
    }
    if (receivers.length === 0) {
      throw new ServerError(
        "NO_RECIPIENTS",
        `No staff of agency ${req.receivingAgency} has a valid encryption certificate${theirs ? " on its signed roster" : ""}.`,
        theirs
          ? {
              hint: `Changes pending roster signature are signed by ${req.receivingAgency}'s roster officers (sealpost roster sign).`,
            }
          : {},
      );
    }
    const own = (certs.get(actor.staffId) ?? []).filter((c) => !ours || ours.has(c.sha256));
    return { cat, receivers, own };
  }

  /** Registers a planned case (one transaction: the case, its recipients, the audit entry); its profile. */
  async function insertCase(
    actor: Actor,
    req: CreateCaseRequest,
    plan: Awaited<ReturnType<typeof chooseRecipients>>,
  ): Promise<TransferProfile> {
    const { cat, receivers, own } = plan;
    return db.tx(async (uow) => {
      const now = clock.now();
      const id = newCaseId(now);
      const t = now.toISOString();
      await uow.cases.insert({
        id,
        state: "registered",
        category: cat.code,
        sender_agency: actor.agency,
        sender_staff: actor.staffId,
        receiving_agency: req.receivingAgency,
        record_count: req.recordCount,
        upload_no: req.uploadNo.trim(),
        remarks: req.remarks ?? "",
        created_at: t,
        updated_at: t,
      });
      await uow.cases.addRecipients([
        ...receivers.map((r) => ({
          case_id: id,
          side: "payload" as const,
          cert_id: r.id,
          staff_id: r.staff_id,
          role: "receiver" as const,
        })),
        ...own.map((r) => ({
          case_id: id,
          side: "payload" as const,
          cert_id: r.id,
          staff_id: r.staff_id,
          role: "sender-copy" as const,
        })),
      ]);
      await uow.audit.append(
        {
          ...auditBase(actor),
          action: "case.register",
          caseId: id,
          detail: {
            category: cat.code,
            receivingAgency: req.receivingAgency,
            recordCount: req.recordCount,
            uploadNo: req.uploadNo.trim(),
            recipients: [...receivers, ...own].map((r) => r.sha256),
          },
        },
        now,
      );
      return payloadProfile(uow, (await uow.cases.get(id))!);
    });
  }

  async function cancel(actor: Actor, caseId: string, reason: unknown = ""): Promise<CaseDto> {
    // The reason goes into the audit entry: text only, bounded (an object or a huge value has no place there).
    if (typeof reason !== "string" || reason.length > MAX_TEXT) {
      throw new ServerError("BAD_REQUEST", `The reason must be text of at most ${MAX_TEXT} characters.`);
    }
    const c = visibleCase(actor, await db.read((uow) => uow.cases.get(caseId)), caseId, "sender");
    return db.tx(async (uow) => {
      const now = clock.now();
      const row = await transition(uow, caseId, "cancel", now, { ended_at: now.toISOString() });
      await uow.audit.append(
        {
          ...auditBase(actor),
          action: "case.cancel",
          caseId,
          fileSha256: row.payload_sha256 ? [row.payload_sha256] : [],
          detail: { from: c.state, reason },
        },
        now,
      );
      if (c.state === "sent") await noticeCancelled(uow, now, c);
      return caseDto(row);
    });
  }

  const notesOf = async (uow: Parameters<typeof payloadProfile>[0], id: string): Promise<NoteDto[]> =>
    (await uow.cases.notes(id)).map((n) => ({
      id: n.id,
      staffId: n.staff_id,
      staffName: n.name,
      text: n.text,
      createdAt: n.created_at,
    }));

  const service: CaseService = {
    /**
     * One page of the cases of the actor's agency: `box` inbox (received), outbox (sent) or both; optionally one
     * state, newest change first (updated_at DESC, id DESC), at most `query.limit` cases, starting after
     * `query.before`. The order is a keyset, so cases registered while a client pages appear before its cursor and
     * never shift later pages; a case that changes state while a client pages moves to the front (it may be missed by
     * that walk, never shown twice on later pages). `nextCursor` is null on the last page.
     */
    async list(actor, query) {
      requireStaff(actor, "Only agency staff see transfer cases.");
      // One row more than the page tells whether another page exists.
      const rows = await db.read((uow) => uow.cases.page(actor.agency, query, query.limit + 1));
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        cases: page.map(caseDto),
        nextCursor:
          rows.length > query.limit && last ? encodeCursor({ updatedAt: last.updated_at, id: last.id }) : null,
      };
    },

    create,

    async previewRecipients(actor, req) {
      const { receivers, own } = await chooseRecipients(actor, req);
      return db.read((uow) => recipientsOf(uow, [...receivers, ...own]));
    },

    get: (actor, id) =>
      db.read(async (uow) => {
        const c = visibleCase(actor, await uow.cases.get(id), id, "either");
        return { ...caseDto(c), notes: await notesOf(uow, id) };
      }),

    /** The transfer profile of a case (either side may read it). */
    profile: (actor, id) =>
      db.read(async (uow) => payloadProfile(uow, visibleCase(actor, await uow.cases.get(id), id, "either"))),

    /** The result profile (receiving side): the certificates a result file must be sealed to, exactly. */
    async resultProfile(actor, id) {
      const c = visibleCase(actor, await db.read((uow) => uow.cases.get(id)), id, "receiver");
      const rows = await resultRecipientCerts(deps, c);
      if (rows.length === 0) {
        throw new ServerError(
          "NO_RECIPIENTS",
          `No staff of agency ${c.sender_agency} has a valid encryption certificate.`,
        );
      }
      return db.read(async (uow) => ({ case: caseDto(c), recipients: await recipientsOf(uow, rows) }));
    },

    /** Adds a processing note (receiving side, while the case is received). */
    async addNote(actor, caseId, text) {
      if (typeof text !== "string" || text.trim() === "" || text.length > MAX_TEXT) {
        throw new ServerError("BAD_REQUEST", `A note needs text (at most ${MAX_TEXT} characters).`);
      }
      visibleCase(actor, await db.read((uow) => uow.cases.get(caseId)), caseId, "receiver");
      return db.tx(async (uow) => {
        const now = clock.now();
        const row = await transition(uow, caseId, "add_note", now);
        const noteId = await uow.cases.addNote({
          case_id: caseId,
          staff_id: actor.staffId,
          text: text.trim(),
          created_at: now.toISOString(),
        });
        await uow.audit.append({ ...auditBase(actor), action: "case.note", caseId, detail: { noteId } }, now);
        return { ...caseDto(row), notes: await notesOf(uow, caseId) };
      });
    },

    cancel,
    listReceipts: (actor, id) => listReceipts(deps, actor, id),
    addReceipt: (actor, id, req) => addReceipt(deps, actor, id, req),
    assertCanUpload: (actor, id, kind) => assertCanUpload(deps, actor, id, kind),
    takeUploadLease: (actor, id) => acquireUploadLease(deps, id, actor.staffId),
    acceptFile: (actor, id, kind, file) => acceptFile(deps, actor, id, kind, file),
    recordDownload: (actor, id, kind, range, checkSize) => recordDownload(deps, actor, id, kind, range, checkSize),

    async registerPayloadFromFile(input) {
      const row = await db.read((uow) => uow.registry.staff(input.senderStaffId));
      if (!row) {
        await rm(input.tempPath, { force: true });
        throw new ServerError("NOT_FOUND", `No staff member ${input.senderStaffId}.`);
      }
      const s = staffDto(row);
      const actor: Actor = {
        staffId: s.id,
        name: s.name,
        email: s.email,
        agency: s.agency,
        role: s.role,
        certId: "",
        source: input.actorLabel ?? "drop",
      };
      // The envelope is checked against the recipients the case would have before the case exists: a refused file
      // registers nothing.
      let created: TransferProfile;
      let info: InspectResult;
      try {
        const plan = await chooseRecipients(actor, input.caseFields);
        info = await checkEnvelope(input, [...plan.receivers, ...plan.own]);
        created = await insertCase(actor, input.caseFields, plan);
      } catch (e) {
        await rm(input.tempPath, { force: true });
        throw e;
      }
      try {
        return await acceptFile(deps, actor, created.case.id, "payload", { ...input, envelope: { ok: true, info } });
      } catch (e) {
        // Only a change between the check and the registration (a certificate revoked meanwhile) gets here.
        await cancel(actor, created.case.id, `payload refused: ${e instanceof ServerError ? e.code : "error"}`);
        throw e;
      }
    },

    caseByPayload: (sha256, agency) => db.read((uow) => uow.cases.byPayload(sha256, agency)),
  };
  return service;
}

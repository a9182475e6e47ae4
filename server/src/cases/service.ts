import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { randomBytes, verify } from "node:crypto";
import {
  CASE_TRANSITIONS,
  type CaseAction,
  type CaseDto,
  type CaseState,
  type CreateCaseRequest,
  canonicalJson,
  type FileUploaderDto,
  type NoteDto,
  type ProfileRecipient,
  type ReceiptDto,
  type ReceiptRequest,
  type TransferProfile,
} from "@sealpost/protocol";
import { certificateToPem, PkiError } from "@sealpost/pki";
import { appendAudit } from "../audit/log.js";
import type { Actor, ServerContext } from "../context.js";
import { inspectCms } from "../crypto.js";
import { ServerError } from "../errors.js";
import { type CaseMailInfo, renderNewCaseMail, renderProcessedMail } from "../mail/templates.js";
import { certDto, certOf } from "../registry/certificates.js";
import { activeCertRows, getAgency, getCategory, getStaff, validateCert } from "../registry/legacy.js";
import type { CertRow } from "../registry/repository.js";
import type { IncomingFile } from "../files/upload.js";
import { type CaseListQuery, encodeCursor } from "./paging.js";
import { compareRecipients } from "./recipients.js";

/**
 * Transfer cases (DESIGN section 2). Every transition runs in one database transaction as
 * `UPDATE cases SET state = ... WHERE id = ? AND state IN (<allowed from-states>)` and succeeds only when exactly one
 * row changed, so of two concurrent transitions exactly one wins; the other gets ILLEGAL_TRANSITION (409). The audit
 * entry and the mail notices of a transition are written in the same transaction.
 */

export interface CaseRow {
  id: string;
  state: CaseState;
  category: string;
  sender_agency: string;
  sender_staff: string;
  receiving_agency: string;
  record_count: number;
  upload_no: string;
  remarks: string;
  payload_sha256: string | null;
  payload_size: number | null;
  payload_at: string | null;
  result_sha256: string | null;
  result_size: number | null;
  result_at: string | null;
  /** JSON FileUploaderDto, recorded at upload (null for files recorded before core-003). */
  payload_uploaded_by?: string | null;
  result_uploaded_by?: string | null;
  created_at: string;
  updated_at: string;
}

export type Side = "sender" | "receiver";
/** Longest free text (remarks, cancel reason) accepted, in UTF-16 code units. */
const MAX_TEXT = 4000;
const now = () => new Date().toISOString();

/** A new case id: date and 8 random hex digits, e.g. "C20261130-3f9a0c12". */
function newCaseId(): string {
  return `C${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(4).toString("hex")}`;
}

export function caseDto(r: CaseRow): CaseDto {
  return {
    id: r.id,
    state: r.state,
    category: r.category,
    senderAgency: r.sender_agency,
    senderStaff: r.sender_staff,
    receivingAgency: r.receiving_agency,
    recordCount: r.record_count,
    uploadNo: r.upload_no,
    remarks: r.remarks,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.payload_sha256
      ? {
          payload: {
            sha256: r.payload_sha256,
            size: r.payload_size ?? 0,
            uploadedAt: r.payload_at ?? "",
            ...uploaderOf(r.payload_uploaded_by),
          },
        }
      : {}),
    ...(r.result_sha256
      ? {
          result: {
            sha256: r.result_sha256,
            size: r.result_size ?? 0,
            uploadedAt: r.result_at ?? "",
            ...uploaderOf(r.result_uploaded_by),
          },
        }
      : {}),
  };
}

function uploaderOf(json: string | null | undefined): { uploadedBy?: FileUploaderDto } {
  return json ? { uploadedBy: JSON.parse(json) as FileUploaderDto } : {};
}

/**
 * The uploader record of a file: the authenticated caller, their agency and the SHA-256 of every signing certificate
 * registered and active for them now (the receiver checks the file's CMS signer against these).
 */
function uploaderRecord(ctx: ServerContext, actor: Actor): string {
  const dto: FileUploaderDto = {
    staffId: actor.staffId,
    agency: actor.agency,
    signingCertSha256: activeCertRows(ctx.db, actor.staffId, "sign").map((r) => r.sha256),
  };
  return JSON.stringify(dto);
}

function auditBase(actor: Actor) {
  return { actor: actor.staffId, role: actor.role, agency: actor.agency, source: actor.source };
}

/** The sides of a case the actor's agency is on. */
export function sidesOf(actor: Actor, c: CaseRow): Side[] {
  const s: Side[] = [];
  if (c.sender_agency === actor.agency) s.push("sender");
  if (c.receiving_agency === actor.agency) s.push("receiver");
  return s;
}

/**
 * Loads a case the actor may act on from `side` ("either" for reading). Only role "staff" acts on cases; a case of
 * another agency is NOT_FOUND (its existence is not disclosed); the wrong side of an own case is FORBIDDEN.
 */
export function caseFor(ctx: ServerContext, actor: Actor, id: string, side: Side | "either"): CaseRow {
  if (actor.role !== "staff") throw new ServerError("FORBIDDEN", "Only agency staff act on transfer cases.");
  const c = ctx.db.prepare("SELECT * FROM cases WHERE id = ?").get(id) as CaseRow | undefined;
  const sides = c ? sidesOf(actor, c) : [];
  if (!c || sides.length === 0) throw new ServerError("NOT_FOUND", `No case ${id} visible to you.`);
  if (side !== "either" && !sides.includes(side)) {
    throw new ServerError("FORBIDDEN", `Only the ${side === "sender" ? "sending" : "receiving"} agency can do this.`);
  }
  return c;
}

/**
 * Moves a case by `action` inside the current transaction: one conditional UPDATE; throws ILLEGAL_TRANSITION (409)
 * when the case is not (or no longer) in an allowed from-state. `set` adds column updates.
 */
export function transition(
  ctx: ServerContext,
  id: string,
  action: CaseAction,
  set: Record<string, unknown> = {},
): CaseRow {
  const t = CASE_TRANSITIONS[action];
  const cols = Object.keys(set);
  const from = t.from as readonly string[];
  const info = ctx.db
    .prepare(
      `UPDATE cases SET state = ?, updated_at = ?${cols.map((c) => `, ${c} = ?`).join("")}
       WHERE id = ? AND state IN (${from.map(() => "?").join(",")})`,
    )
    .run(t.to, now(), ...cols.map((c) => set[c]), id, ...from);
  const row = ctx.db.prepare("SELECT * FROM cases WHERE id = ?").get(id) as CaseRow | undefined;
  if (!row) throw new ServerError("NOT_FOUND", `No case ${id}.`);
  if (info.changes !== 1) {
    throw new ServerError("ILLEGAL_TRANSITION", `Case ${id} is ${row.state}; "${action}" needs ${from.join(" or ")}.`, {
      details: { caseId: id, state: row.state, action, allowedFrom: from },
    });
  }
  return row;
}

/** Active staff (role staff) of an agency. */
function agencyStaff(ctx: ServerContext, agency: string): { id: string; name: string; email: string }[] {
  return ctx.db
    .prepare("SELECT id, name, email FROM staff WHERE agency = ? AND active = 1 AND role = 'staff' ORDER BY email")
    .all(agency) as { id: string; name: string; email: string }[];
}

/** The staff member's active encryption certificates that validate now (invalid ones are skipped, or thrown when `strict`). */
async function validEncryptionCerts(ctx: ServerContext, staffId: string, strict: boolean): Promise<CertRow[]> {
  const ok: CertRow[] = [];
  for (const r of activeCertRows(ctx.db, staffId, "encrypt")) {
    const { cert, chain } = certOf(r);
    try {
      await validateCert(ctx, cert, "encrypt", chain);
      ok.push(r);
    } catch (e) {
      if (strict) throw e;
      ctx.log.warn("skipping a registered encryption certificate that no longer validates", {
        staffId,
        certSha256: r.sha256,
        reason: e instanceof ServerError ? (e.details?.pkiCode ?? e.code) : String(e),
      });
    }
  }
  return ok;
}

function recipientOf(ctx: ServerContext, r: CertRow): ProfileRecipient {
  const s = getStaff(ctx.db, r.staff_id);
  return { staffId: s.id, name: s.name, email: s.email, agency: s.agency, certificate: certDto(r) };
}

/**
 * Registers a case from the sender's side and returns its transfer profile. Receivers: the given e-mail addresses
 * (each must be active staff of the receiving agency with a valid encryption certificate), by default every active
 * staff member of the receiving agency with one. The sender's own valid encryption certificates are added so the
 * sender can open the sealed file again.
 */
export async function createCase(ctx: ServerContext, actor: Actor, req: CreateCaseRequest): Promise<TransferProfile> {
  if (actor.role !== "staff") throw new ServerError("FORBIDDEN", "Only agency staff register transfer cases.");
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
  const cat = getCategory(ctx.db, req.category);
  if (!cat.active) throw new ServerError("BAD_REQUEST", `Transfer category ${cat.code} is no longer in use.`);
  if (!getAgency(ctx.db, req.receivingAgency).active) {
    throw new ServerError("BAD_REQUEST", `Agency ${req.receivingAgency} is no longer served by this relay.`);
  }
  const all = agencyStaff(ctx, req.receivingAgency);
  let chosen = all;
  if (req.receivers && req.receivers.length > 0) {
    chosen = req.receivers.map((email) => {
      const s = all.find((x) => x.email.toLowerCase() === String(email).toLowerCase());
      if (!s) {
        throw new ServerError("BAD_REQUEST", `${email} is not active staff of agency ${req.receivingAgency}.`);
      }
      return s;
    });
  }
  const receivers: CertRow[] = [];
  for (const s of chosen) {
    const certs = await validEncryptionCerts(ctx, s.id, false);
    if (certs.length === 0 && req.receivers?.length) {
      throw new ServerError("NO_RECIPIENTS", `${s.email} has no valid registered encryption certificate.`, {
        hint: "Ask the administrator to register the staff member's current encryption certificate.",
      });
    }
    receivers.push(...certs);
  }
  if (receivers.length === 0) {
    throw new ServerError(
      "NO_RECIPIENTS",
      `No staff of agency ${req.receivingAgency} has a valid encryption certificate.`,
    );
  }
  const own = await validEncryptionCerts(ctx, actor.staffId, false);
  const id = newCaseId();
  ctx.db.transaction(() => {
    const t = now();
    ctx.db
      .prepare(
        `INSERT INTO cases (id, state, category, sender_agency, sender_staff, receiving_agency, record_count, upload_no,
           remarks, created_at, updated_at) VALUES (?, 'registered', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        cat.code,
        actor.agency,
        actor.staffId,
        req.receivingAgency,
        req.recordCount,
        req.uploadNo.trim(),
        req.remarks ?? "",
        t,
        t,
      );
    const ins = ctx.db.prepare(
      "INSERT INTO case_recipients (case_id, side, cert_id, staff_id, role) VALUES (?, 'payload', ?, ?, ?)",
    );
    for (const r of receivers) ins.run(id, r.id, r.staff_id, "receiver");
    for (const r of own) ins.run(id, r.id, r.staff_id, "sender-copy");
    appendAudit(ctx.db, {
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
    });
  })();
  return profile(ctx, actor, id);
}

function payloadRecipientRows(ctx: ServerContext, caseId: string): CertRow[] {
  return ctx.db
    .prepare(
      `SELECT c.* FROM case_recipients r JOIN certificates c ON c.id = r.cert_id
       WHERE r.case_id = ? AND r.side = 'payload' ORDER BY r.role, c.created_at`,
    )
    .all(caseId) as CertRow[];
}

/** The transfer profile of a case (either side may read it). */
export function profile(ctx: ServerContext, actor: Actor, id: string): TransferProfile {
  const c = caseFor(ctx, actor, id, "either");
  return { case: caseDto(c), recipients: payloadRecipientRows(ctx, id).map((r) => recipientOf(ctx, r)) };
}

/** The result's recipients now: every valid encryption certificate of the sending agency's active staff. */
async function resultRecipientRows(ctx: ServerContext, c: CaseRow): Promise<CertRow[]> {
  const rows: CertRow[] = [];
  for (const s of agencyStaff(ctx, c.sender_agency)) rows.push(...(await validEncryptionCerts(ctx, s.id, false)));
  return rows;
}

/** The result profile (receiving side): the certificates a result file must be sealed to, exactly. */
export async function resultProfile(ctx: ServerContext, actor: Actor, id: string): Promise<TransferProfile> {
  const c = caseFor(ctx, actor, id, "receiver");
  const rows = await resultRecipientRows(ctx, c);
  if (rows.length === 0) {
    throw new ServerError("NO_RECIPIENTS", `No staff of agency ${c.sender_agency} has a valid encryption certificate.`);
  }
  return { case: caseDto(c), recipients: rows.map((r) => recipientOf(ctx, r)) };
}

export function getCase(ctx: ServerContext, actor: Actor, id: string): CaseDto {
  const c = caseFor(ctx, actor, id, "either");
  return { ...caseDto(c), notes: notesOf(ctx, id) };
}

function notesOf(ctx: ServerContext, id: string): NoteDto[] {
  return (
    ctx.db
      .prepare(
        `SELECT n.id, n.staff_id, s.name, n.text, n.created_at FROM case_notes n JOIN staff s ON s.id = n.staff_id
         WHERE n.case_id = ? ORDER BY n.id`,
      )
      .all(id) as { id: number; staff_id: string; name: string; text: string; created_at: string }[]
  ).map((n) => ({ id: n.id, staffId: n.staff_id, staffName: n.name, text: n.text, createdAt: n.created_at }));
}

/**
 * One page of the cases of the actor's agency: `box` inbox (received), outbox (sent) or both; optionally one state, newest change first: ordered
 * updated_at DESC, id DESC, at most `query.limit` cases, starting after `query.before`. The order is a keyset, so
 * cases registered while a client pages appear before its cursor and never shift later pages; a case that changes
 * state while a client pages moves to the front (it may be missed by that walk, never shown twice on later pages).
 * `nextCursor` is null on the last page.
 */
export function listCases(
  ctx: ServerContext,
  actor: Actor,
  query: CaseListQuery,
): { cases: CaseDto[]; nextCursor: string | null } {
  if (actor.role !== "staff") throw new ServerError("FORBIDDEN", "Only agency staff see transfer cases.");
  // One row more than the page tells whether another page exists.
  const take = query.limit + 1;
  // One box: the (agency, updated_at, id) index (core-005) is walked from the cursor, no sort. The cursor is a
  // row-value comparison so SQLite seeks the index to it.
  const box = (column: "receiving_agency" | "sender_agency") => {
    const where = [`${column} = ?`];
    const args: unknown[] = [actor.agency];
    if (query.state) {
      where.push("state = ?");
      args.push(query.state);
    }
    if (query.before) {
      where.push("(updated_at, id) < (?, ?)");
      args.push(query.before.updatedAt, query.before.id);
    }
    return {
      sql: `SELECT * FROM cases WHERE ${where.join(" AND ")} ORDER BY updated_at DESC, id DESC LIMIT ?`,
      args: [...args, take],
    };
  };
  let rows: CaseRow[];
  if (query.box) {
    const q = box(query.box === "inbox" ? "receiving_agency" : "sender_agency");
    rows = ctx.db.prepare(q.sql).all(...q.args) as CaseRow[];
  } else {
    // Both boxes: the first `take` of each, merged (UNION drops a case that is in both boxes once).
    const a = box("receiving_agency");
    const b = box("sender_agency");
    rows = ctx.db
      .prepare(`SELECT * FROM (${a.sql}) UNION SELECT * FROM (${b.sql}) ORDER BY updated_at DESC, id DESC LIMIT ?`)
      .all(...a.args, ...b.args, take) as CaseRow[];
  }
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    cases: page.map(caseDto),
    nextCursor: rows.length > query.limit && last ? encodeCursor({ updatedAt: last.updated_at, id: last.id }) : null,
  };
}

function staffEmails(ctx: ServerContext, ids: string[]): string[] {
  return [
    ...new Set(
      ids
        .map((i) => getStaff(ctx.db, i))
        .filter((s) => s.active)
        .map((s) => s.email),
    ),
  ];
}

function mailInfo(ctx: ServerContext, c: CaseRow): CaseMailInfo {
  return {
    caseId: c.id,
    category: c.category,
    senderAgency: c.sender_agency,
    receivingAgency: c.receiving_agency,
    recordCount: c.record_count,
    uploadNo: c.upload_no,
    ...(ctx.config.publicUrl ? { publicUrl: ctx.config.publicUrl } : {}),
  };
}

function notifySafely(ctx: ServerContext, n: Parameters<ServerContext["notify"]>[0]): void {
  if (n.to.length > 0) ctx.notify(n);
}

export type FileKind = "payload" | "result";

/**
 * Checks, before an upload's body is read, that `actor` may deliver `kind` to the case now: the right side of a
 * visible case (NOT_FOUND / FORBIDDEN) in a state that takes the file (ILLEGAL_TRANSITION). So a caller who may not
 * upload never makes the server spool up to maxUploadBytes to disk first. acceptFile checks again afterwards.
 */
export function assertCanUpload(ctx: ServerContext, actor: Actor, caseId: string, kind: FileKind): void {
  const c = caseFor(ctx, actor, caseId, kind === "payload" ? "sender" : "receiver");
  const action: CaseAction = kind === "payload" ? "upload_payload" : "upload_result";
  const from = CASE_TRANSITIONS[action].from as readonly string[];
  if (!from.includes(c.state)) {
    throw new ServerError(
      "ILLEGAL_TRANSITION",
      `Case ${caseId} is ${c.state}; "${action}" needs ${from.join(" or ")}.`,
      {
        details: { caseId, state: c.state, action, allowedFrom: from },
      },
    );
  }
}

/**
 * Checks a received file and makes it the case's payload or result: the envelope's RecipientInfos must be exactly
 * the expected certificates (NOT_CMS / RECIPIENTS_MISMATCH otherwise, 422), then the file is renamed into the store
 * and one transaction records the transition, the file, the audit entry and the notices. The temporary file is
 * always gone afterwards (moved or removed).
 */
export async function acceptFile(
  ctx: ServerContext,
  actor: Actor,
  caseId: string,
  kind: FileKind,
  file: IncomingFile,
): Promise<CaseDto> {
  try {
    const c = caseFor(ctx, actor, caseId, kind === "payload" ? "sender" : "receiver");
    const action: CaseAction = kind === "payload" ? "upload_payload" : "upload_result";
    const from = CASE_TRANSITIONS[action].from as readonly string[];
    if (!from.includes(c.state)) {
      throw new ServerError(
        "ILLEGAL_TRANSITION",
        `Case ${caseId} is ${c.state}; "${action}" needs ${from.join(" or ")}.`,
        {
          details: { caseId, state: c.state, action, allowedFrom: from },
        },
      );
    }
    const expected = kind === "payload" ? payloadRecipientRows(ctx, caseId) : await resultRecipientRows(ctx, c);
    let info: Awaited<ReturnType<typeof inspectCms>>;
    try {
      info = await inspectCms(createReadStream(file.tempPath));
    } catch (e) {
      if (e instanceof ServerError) throw e;
      throw new ServerError("NOT_CMS", undefined, {
        cause: e,
        hint: "Upload the sealed file (sealpost seal / sealpost send), not the plain batch.",
        details: { reason: e instanceof Error ? e.message : String(e) },
      });
    }
    if (info.contentType !== "authEnvelopedData" && info.contentType !== "envelopedData") {
      throw new ServerError("NOT_CMS", `The file is CMS ${info.contentType}, not an envelope sealed to recipients.`);
    }
    const cmp = compareRecipients(info.recipients, expected);
    if (!cmp.exact) {
      throw new ServerError("RECIPIENTS_MISMATCH", undefined, {
        hint: "Fetch the case's profile again and seal to exactly its recipient certificates.",
        details: { missing: cmp.missing, unexpected: cmp.unexpected, expected: expected.map((r) => r.sha256) },
      });
    }
    await ctx.store.commit(file.tempPath, file.sha256);
    try {
      return commitTransition(ctx, actor, c, kind, file, expected);
    } catch (e) {
      const used = ctx.db
        .prepare("SELECT 1 FROM cases WHERE payload_sha256 = ? OR result_sha256 = ?")
        .get(file.sha256, file.sha256);
      if (!used) await ctx.store.remove(file.sha256);
      throw e;
    }
  } catch (e) {
    // A refused file is part of the record: who tried to deliver what (by hash) to which case.
    if (e instanceof ServerError && (e.code === "NOT_CMS" || e.code === "RECIPIENTS_MISMATCH")) {
      ctx.db.transaction(() =>
        appendAudit(ctx.db, {
          ...auditBase(actor),
          action: `case.${kind}_refused`,
          caseId,
          fileSha256: [file.sha256],
          detail: { code: e.code, size: file.size },
        }),
      )();
    }
    throw e;
  } finally {
    await rm(file.tempPath, { force: true });
  }
}

function commitTransition(
  ctx: ServerContext,
  actor: Actor,
  c: CaseRow,
  kind: FileKind,
  file: IncomingFile,
  expected: CertRow[],
): CaseDto {
  return ctx.db.transaction(() => {
    const t = now();
    ctx.db
      .prepare(
        "INSERT INTO files (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET purged_at = NULL",
      )
      .run(file.sha256, file.size, t);
    let row: CaseRow;
    if (kind === "payload") {
      row = transition(ctx, c.id, "upload_payload", {
        payload_sha256: file.sha256,
        payload_size: file.size,
        payload_at: t,
        payload_uploaded_by: uploaderRecord(ctx, actor),
      });
      const receivers = ctx.db
        .prepare(
          "SELECT DISTINCT staff_id FROM case_recipients WHERE case_id = ? AND side = 'payload' AND role = 'receiver'",
        )
        .all(c.id) as { staff_id: string }[];
      notifySafely(ctx, {
        to: staffEmails(
          ctx,
          receivers.map((r) => r.staff_id),
        ),
        ...renderNewCaseMail(mailInfo(ctx, c)),
        kind: "case.sent",
        caseId: c.id,
      });
    } else {
      row = transition(ctx, c.id, "upload_result", {
        result_sha256: file.sha256,
        result_size: file.size,
        result_at: t,
        result_uploaded_by: uploaderRecord(ctx, actor),
      });
      const ins = ctx.db.prepare(
        "INSERT OR IGNORE INTO case_recipients (case_id, side, cert_id, staff_id, role) VALUES (?, 'result', ?, ?, 'result')",
      );
      for (const r of expected) ins.run(c.id, r.id, r.staff_id);
      notifySafely(ctx, {
        to: staffEmails(ctx, [c.sender_staff]),
        ...renderProcessedMail(mailInfo(ctx, c)),
        kind: "case.processed",
        caseId: c.id,
      });
    }
    appendAudit(ctx.db, {
      ...auditBase(actor),
      action: kind === "payload" ? "case.upload_payload" : "case.upload_result",
      caseId: c.id,
      fileSha256: [file.sha256],
      detail: { size: file.size, from: c.state, to: row.state },
    });
    return caseDto(row);
  })();
}

/**
 * Only the people a file is for may fetch it (FORBIDDEN otherwise, before anything is recorded): the payload the
 * receiving staff named on the case; the result, once uploaded, the sending agency's staff it was sealed to. (Before
 * the result exists the transition answers ILLEGAL_TRANSITION as for anyone on the sending side.)
 */
function assertNamedRecipient(ctx: ServerContext, actor: Actor, c: CaseRow, kind: FileKind): void {
  if (kind === "payload") {
    const named = ctx.db
      .prepare(
        "SELECT 1 FROM case_recipients WHERE case_id = ? AND side = 'payload' AND role = 'receiver' AND staff_id = ?",
      )
      .get(c.id, actor.staffId);
    if (!named) {
      throw new ServerError("FORBIDDEN", `Only the receiving staff named on case ${c.id} can download its payload.`, {
        hint: "Ask the sending agency to name you as a receiver, or a named colleague to fetch it.",
      });
    }
  } else if (c.result_sha256) {
    const named = ctx.db
      .prepare("SELECT 1 FROM case_recipients WHERE case_id = ? AND side = 'result' AND staff_id = ?")
      .get(c.id, actor.staffId);
    if (!named) {
      throw new ServerError("FORBIDDEN", `The result of case ${c.id} was not sealed to you: you cannot download it.`, {
        hint: "A colleague the result was sealed to can fetch it.",
      });
    }
  }
}

/**
 * Records a download (payload by the receiving staff named on the case, result by the sending staff it was sealed to) as a transition and an audit entry,
 * and returns the file's hash and size. `checkSize` may throw (e.g. an unsatisfiable range) to refuse before anything
 * is recorded. The caller streams the bytes afterwards.
 */
export function recordDownload(
  ctx: ServerContext,
  actor: Actor,
  caseId: string,
  kind: FileKind,
  range?: string,
  checkSize?: (size: number) => void,
): { sha256: string; size: number } {
  const side: Side = kind === "payload" ? "receiver" : "sender";
  const c = caseFor(ctx, actor, caseId, side);
  assertNamedRecipient(ctx, actor, c, kind);
  return ctx.db.transaction(() => {
    const action: CaseAction = kind === "payload" ? "download_payload" : "download_result";
    const row = transition(
      ctx,
      caseId,
      action,
      kind === "result" && c.state === "processed" ? { ended_at: now() } : {},
    );
    const sha = kind === "payload" ? row.payload_sha256 : row.result_sha256;
    const size = kind === "payload" ? row.payload_size : row.result_size;
    if (!sha || size === null) throw new ServerError("NOT_FOUND", `Case ${caseId} has no ${kind} file.`);
    const f = ctx.db.prepare("SELECT purged_at FROM files WHERE sha256 = ?").get(sha) as
      | { purged_at: string | null }
      | undefined;
    if (!f || f.purged_at) throw new ServerError("FILE_GONE");
    checkSize?.(size);
    appendAudit(ctx.db, {
      ...auditBase(actor),
      action: kind === "payload" ? "case.download_payload" : "case.download_result",
      caseId,
      fileSha256: [sha],
      detail: { from: c.state, to: row.state, ...(range ? { range } : {}) },
    });
    return { sha256: sha, size };
  })();
}

/** Adds a processing note (receiving side, while the case is received). */
export function addNote(ctx: ServerContext, actor: Actor, caseId: string, text: string): CaseDto {
  if (typeof text !== "string" || text.trim() === "" || text.length > 4000) {
    throw new ServerError("BAD_REQUEST", "A note needs text (at most 4000 characters).");
  }
  caseFor(ctx, actor, caseId, "receiver");
  return ctx.db.transaction(() => {
    transition(ctx, caseId, "add_note");
    const info = ctx.db
      .prepare("INSERT INTO case_notes (case_id, staff_id, text, created_at) VALUES (?, ?, ?, ?)")
      .run(caseId, actor.staffId, text.trim(), now());
    appendAudit(ctx.db, {
      ...auditBase(actor),
      action: "case.note",
      caseId,
      detail: { noteId: Number(info.lastInsertRowid) },
    });
    return getCase(ctx, actor, caseId);
  })();
}

/** Withdraws a case (sending side, before receipt). */
export function cancelCase(ctx: ServerContext, actor: Actor, caseId: string, reason: unknown = ""): CaseDto {
  // The reason goes into the audit entry: text only, bounded (an object or a huge value has no place there).
  if (typeof reason !== "string" || reason.length > MAX_TEXT) {
    throw new ServerError("BAD_REQUEST", `The reason must be text of at most ${MAX_TEXT} characters.`);
  }
  const c = caseFor(ctx, actor, caseId, "sender");
  return ctx.db.transaction(() => {
    const row = transition(ctx, caseId, "cancel", { ended_at: now() });
    appendAudit(ctx.db, {
      ...auditBase(actor),
      action: "case.cancel",
      caseId,
      fileSha256: row.payload_sha256 ? [row.payload_sha256] : [],
      detail: { from: c.state, reason },
    });
    if (c.state === "sent") {
      const receivers = ctx.db
        .prepare(
          "SELECT DISTINCT staff_id FROM case_recipients WHERE case_id = ? AND side = 'payload' AND role = 'receiver'",
        )
        .all(caseId) as { staff_id: string }[];
      notifySafely(ctx, {
        to: staffEmails(
          ctx,
          receivers.map((r) => r.staff_id),
        ),
        subject: `[sealpost] 案件 ${caseId} 已撤回 (withdrawn)`,
        text: `Agency ${c.sender_agency} withdrew case ${caseId}. Nothing more to do.\n`,
        kind: "case.cancelled",
        caseId,
      });
    }
    return caseDto(row);
  })();
}

/**
 * Verifies and keeps a signed receipt. Payload receipts come from a receiving staff member the payload was sealed
 * to, once the case is received; result receipts from the sending side once the result was fetched. The signature
 * (over canonicalJson(statement)) must verify with one of the signer's active registered signing certificates,
 * re-validated now, and statement.sha256 must be the case's file. One receipt per (case, kind, person): posting the
 * same receipt again returns the one kept (`created` false, nothing new recorded); a different one is CONFLICT (409).
 */
export async function addReceipt(
  ctx: ServerContext,
  actor: Actor,
  caseId: string,
  req: ReceiptRequest,
): Promise<{ receipt: ReceiptDto; created: boolean }> {
  const st = req?.statement;
  if (st?.type !== "sealpost-receipt" || (st.kind !== "payload" && st.kind !== "result")) {
    throw new ServerError("BAD_REQUEST", "A receipt needs a sealpost-receipt statement of kind payload or result.");
  }
  const c = caseFor(ctx, actor, caseId, st.kind === "payload" ? "receiver" : "sender");
  const bad = (message: string) => new ServerError("BAD_RECEIPT", message);
  if (st.kind === "payload") {
    const isReceiver = ctx.db
      .prepare(
        "SELECT 1 FROM case_recipients WHERE case_id = ? AND side = 'payload' AND role = 'receiver' AND staff_id = ?",
      )
      .get(caseId, actor.staffId);
    if (!isReceiver)
      throw new ServerError("FORBIDDEN", "Only a receiving staff member named on the case signs its receipt.");
  }
  if (st.caseId !== caseId) throw bad("The receipt names another case.");
  const okStates: CaseState[] =
    st.kind === "payload" ? ["received", "processed", "result_received"] : ["result_received"];
  if (!okStates.includes(c.state)) {
    throw new ServerError("ILLEGAL_TRANSITION", `Case ${caseId} is ${c.state}: no ${st.kind} receipt yet.`, {
      details: { caseId, state: c.state },
    });
  }
  const fileSha = st.kind === "payload" ? c.payload_sha256 : c.result_sha256;
  if (!fileSha || st.sha256 !== fileSha) throw bad(`The receipt's SHA-256 is not the case's ${st.kind} file.`);
  if (!Number.isFinite(Date.parse(st.time))) throw bad("The receipt's time is not a valid time.");
  // One receipt per (case, kind, person): the same receipt again is answered with the one kept; another is a conflict.
  const again = existingReceipt(ctx, actor, caseId, req);
  if (again) return { receipt: again, created: false };
  const row = activeCertRows(ctx.db, actor.staffId, "sign").find(
    (r) => r.sha256 === String(req.certSha256).toLowerCase(),
  );
  if (!row) throw bad("The receipt's certificate is not one of your active registered signing certificates.");
  const { cert, chain } = certOf(row);
  await validateCert(ctx, cert, "sign", chain);
  let ok = false;
  try {
    ok = verify(
      "sha256",
      Buffer.from(canonicalJson(st), "utf8"),
      cert.publicKey,
      Buffer.from(String(req.signature), "base64"),
    );
  } catch (e) {
    if (!(e instanceof Error) || e instanceof PkiError) throw e;
  }
  if (!ok) throw bad("The receipt's signature does not verify with your registered signing certificate.");
  return ctx.db.transaction(() => {
    // Checked again in the transaction: another request may have kept a receipt while the signature was checked.
    const raced = existingReceipt(ctx, actor, caseId, req);
    if (raced) return { receipt: raced, created: false };
    const info = ctx.db
      .prepare(
        `INSERT INTO receipts (case_id, kind, staff_id, cert_id, sha256, statement, signature, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(caseId, st.kind, actor.staffId, row.id, st.sha256, canonicalJson(st), req.signature, now());
    appendAudit(ctx.db, {
      ...auditBase(actor),
      action: `case.receipt_${st.kind}`,
      caseId,
      fileSha256: [st.sha256],
      detail: { receiptId: Number(info.lastInsertRowid), certSha256: row.sha256 },
    });
    return {
      receipt: listReceipts(ctx, actor, caseId).find((r) => r.id === Number(info.lastInsertRowid))!,
      created: true,
    };
  })();
}

/**
 * The receipt the actor already gave for this case and kind, when `req` is exactly it (same statement, signature and
 * certificate); undefined when there is none; CONFLICT (409) when there is a different one.
 */
function existingReceipt(
  ctx: ServerContext,
  actor: Actor,
  caseId: string,
  req: ReceiptRequest,
): ReceiptDto | undefined {
  const kept = ctx.db
    .prepare("SELECT id FROM receipts WHERE case_id = ? AND kind = ? AND staff_id = ? ORDER BY id LIMIT 1")
    .get(caseId, req.statement.kind, actor.staffId) as { id: number } | undefined;
  if (!kept) return undefined;
  const dto = listReceipts(ctx, actor, caseId).find((r) => r.id === kept.id)!;
  const same =
    canonicalJson(dto.statement) === canonicalJson(req.statement) &&
    dto.signature === req.signature &&
    dto.certSha256 === String(req.certSha256).toLowerCase();
  if (!same) {
    throw new ServerError(
      "CONFLICT",
      `You already signed a ${req.statement.kind} receipt for case ${caseId} (#${kept.id}).`,
      {
        details: { receiptId: kept.id },
      },
    );
  }
  return dto;
}

export function listReceipts(ctx: ServerContext, actor: Actor, caseId: string): ReceiptDto[] {
  caseFor(ctx, actor, caseId, "either");
  const rows = ctx.db
    .prepare(
      `SELECT r.*, s.name, c.sha256 AS cert_sha, c.der FROM receipts r JOIN staff s ON s.id = r.staff_id
       JOIN certificates c ON c.id = r.cert_id WHERE r.case_id = ? ORDER BY r.id`,
    )
    .all(caseId) as {
    id: number;
    staff_id: string;
    name: string;
    cert_sha: string;
    der: Buffer;
    statement: string;
    signature: string;
    created_at: string;
  }[];
  return rows.map((r) => ({
    id: r.id,
    staffId: r.staff_id,
    staffName: r.name,
    receivedAt: r.created_at,
    certSha256: r.cert_sha,
    statement: JSON.parse(r.statement),
    signature: r.signature,
    certificatePem: certificateToPem(certOf({ der: r.der, chain_pem: "" } as CertRow).cert),
  }));
}

/**
 * For the SFTP drops module: registers a case for `senderStaffId` and makes a sealed file pulled from an agency's
 * outbox its payload, exactly like a manual upload (same recipient check, same transaction, same audit and notices).
 * `tempPath` must be a complete file under the store's tmp folder; it is moved or removed. If the file is refused
 * (NOT_CMS, RECIPIENTS_MISMATCH...) the new case is cancelled (audited) and the error rethrown.
 * `actorLabel` (e.g. "drop:taipei-social") is recorded as the audit entries' source (where a manual upload has the IP).
 */
export async function registerPayloadFromFile(
  ctx: ServerContext,
  input: {
    caseFields: CreateCaseRequest;
    senderStaffId: string;
    tempPath: string;
    sha256: string;
    size: number;
    actorLabel?: string;
  },
): Promise<CaseDto> {
  const s = getStaff(ctx.db, input.senderStaffId);
  const actor: Actor = {
    staffId: s.id,
    name: s.name,
    email: s.email,
    agency: s.agency,
    role: s.role,
    certId: "",
    source: input.actorLabel ?? "drop",
  };
  let created: TransferProfile;
  try {
    created = await createCase(ctx, actor, input.caseFields);
  } catch (e) {
    await rm(input.tempPath, { force: true });
    throw e;
  }
  try {
    return await acceptFile(ctx, actor, created.case.id, "payload", input);
  } catch (e) {
    cancelCase(ctx, actor, created.case.id, `payload refused: ${e instanceof ServerError ? e.code : "error"}`);
    throw e;
  }
}

/** Transfer cases as their routes, the files domain and the drops see them. */
export interface CaseService {
  list(actor: Actor, query: CaseListQuery): Promise<{ cases: CaseDto[]; nextCursor: string | null }>;
  create(actor: Actor, req: CreateCaseRequest): Promise<TransferProfile>;
  get(actor: Actor, id: string): Promise<CaseDto>;
  profile(actor: Actor, id: string): Promise<TransferProfile>;
  resultProfile(actor: Actor, id: string): Promise<TransferProfile>;
  addNote(actor: Actor, id: string, text: string): Promise<CaseDto>;
  cancel(actor: Actor, id: string, reason: unknown): Promise<CaseDto>;
  listReceipts(actor: Actor, id: string): Promise<ReceiptDto[]>;
  addReceipt(actor: Actor, id: string, req: ReceiptRequest): Promise<{ receipt: ReceiptDto; created: boolean }>;
  /** See assertCanUpload: refuses before a byte of an upload is read. */
  assertCanUpload(actor: Actor, id: string, kind: FileKind): Promise<void>;
  /** See acceptFile: checks the envelope, stores the file and records the transition. */
  acceptFile(actor: Actor, id: string, kind: FileKind, file: IncomingFile): Promise<CaseDto>;
  /** See recordDownload: records the download transition; `checkSize` may refuse before anything is recorded. */
  recordDownload(
    actor: Actor,
    id: string,
    kind: FileKind,
    range: string | undefined,
    checkSize: (size: number) => void,
  ): Promise<{ sha256: string; size: number }>;
  /** See registerPayloadFromFile (the SFTP drops). */
  registerPayloadFromFile(input: Parameters<typeof registerPayloadFromFile>[1]): Promise<CaseDto>;
}

export function createCaseService(ctx: ServerContext): CaseService {
  return {
    list: async (actor, query) => listCases(ctx, actor, query),
    create: (actor, req) => createCase(ctx, actor, req),
    get: async (actor, id) => getCase(ctx, actor, id),
    profile: async (actor, id) => profile(ctx, actor, id),
    resultProfile: (actor, id) => resultProfile(ctx, actor, id),
    addNote: async (actor, id, text) => addNote(ctx, actor, id, text),
    cancel: async (actor, id, reason) => cancelCase(ctx, actor, id, reason),
    listReceipts: async (actor, id) => listReceipts(ctx, actor, id),
    addReceipt: (actor, id, req) => addReceipt(ctx, actor, id, req),
    assertCanUpload: async (actor, id, kind) => assertCanUpload(ctx, actor, id, kind),
    acceptFile: (actor, id, kind, file) => acceptFile(ctx, actor, id, kind, file),
    recordDownload: async (actor, id, kind, range, checkSize) => recordDownload(ctx, actor, id, kind, range, checkSize),
    registerPayloadFromFile: (input) => registerPayloadFromFile(ctx, input),
  };
}

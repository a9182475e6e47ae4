import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { CaseAction, CaseDto, FileUploaderDto } from "@sealpost/protocol";
import type { Actor } from "../context.js";
import { type InspectResult, inspectCms } from "../crypto.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import type { IncomingFile } from "../files/upload.js";
import type { CertRow } from "../registry/repository.js";
import { activeCertificates } from "../registry/service.js";
import { auditBase } from "./audit.js";
import type { CaseDeps } from "./deps.js";
import { caseDto } from "./dto.js";
import { noticeProcessed, noticeSent } from "./notices.js";
import { resultRecipientCerts } from "./profiles.js";
import { compareRecipients } from "./recipients.js";
import type { CaseRow } from "./repository.js";
import { assertAllowed, type Side, visibleCase } from "./rules.js";
import { transition } from "./transition.js";

/**
 * The case files: who may deliver and fetch them, the envelope check, and the transitions they make. The bytes
 * themselves are the files domain's (upload into the store's temp folder, download streams).
 */

export type FileKind = "payload" | "result";

const uploadAction = (kind: FileKind): CaseAction => (kind === "payload" ? "upload_payload" : "upload_result");
const uploaderSide = (kind: FileKind): Side => (kind === "payload" ? "sender" : "receiver");

/**
 * Checks, before an upload's body is read, that `actor` may deliver `kind` to the case now: the right side of a
 * visible case (NOT_FOUND / FORBIDDEN) in a state that takes the file (ILLEGAL_TRANSITION). So a caller who may not
 * upload never makes the server spool up to maxUploadBytes to disk first. acceptFile checks again afterwards.
 */
export async function assertCanUpload(deps: CaseDeps, actor: Actor, caseId: string, kind: FileKind): Promise<void> {
  const c = visibleCase(actor, await deps.db.read((uow) => uow.cases.get(caseId)), caseId, uploaderSide(kind));
  assertAllowed(c, uploadAction(kind));
}

/**
 * Reads a received file's CMS envelope (from `file.envelope` when read on its way in, else from `tempPath`) and
 * checks that its RecipientInfos are exactly `expected`. Throws ServerError NOT_CMS or RECIPIENTS_MISMATCH (whose
 * details list the expected certificates and the recipients found); returns the envelope's structure.
 */
export async function checkEnvelope(file: IncomingFile, expected: CertRow[]): Promise<InspectResult> {
  let info: InspectResult;
  try {
    if (!file.envelope) info = await inspectCms(createReadStream(file.tempPath));
    else if (file.envelope.ok) info = file.envelope.info;
    else throw file.envelope.error;
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
      details: {
        missing: cmp.missing,
        unexpected: cmp.unexpected,
        expected: expected.map((r) => r.sha256),
        // What a refusal note tells the sender: every certificate the case needs, every recipient the file names.
        expectedCertificates: expected.map((r) => ({
          commonName: r.common_name,
          serialHex: r.serial_hex,
          sha256: r.sha256,
        })),
        found: info.recipients.map((ri) => ({
          type: ri.type,
          ...(ri.issuer !== undefined ? { issuer: ri.issuer } : {}),
          ...(ri.serialHex !== undefined ? { serialHex: ri.serialHex } : {}),
          ...(ri.subjectKeyIdHex !== undefined ? { subjectKeyIdHex: ri.subjectKeyIdHex } : {}),
        })),
      },
    });
  }
  return info;
}

/**
 * Checks a received file and makes it the case's payload or result: the envelope's RecipientInfos must be exactly
 * the expected certificates (NOT_CMS / RECIPIENTS_MISMATCH otherwise, 422; the refusal is audited), then the file
 * is renamed into the store and one transaction records the transition, the file, the audit entry and the notices.
 * The temporary file is always gone afterwards (moved or removed).
 */
export async function acceptFile(
  deps: CaseDeps,
  actor: Actor,
  caseId: string,
  kind: FileKind,
  file: IncomingFile,
): Promise<CaseDto> {
  try {
    const c = visibleCase(actor, await deps.db.read((uow) => uow.cases.get(caseId)), caseId, uploaderSide(kind));
    assertAllowed(c, uploadAction(kind));
    const expected =
      kind === "payload"
        ? await deps.db.read((uow) => uow.cases.payloadRecipientCerts(caseId))
        : await resultRecipientCerts(deps, c);
    await checkEnvelope(file, expected);
    await deps.store.commit(file.tempPath, file.sha256);
    try {
      return await deps.db.tx((uow) => recordFile(deps, uow, actor, c, kind, file, expected));
    } catch (e) {
      if (!(await deps.db.read((uow) => uow.cases.usesFile(file.sha256)))) await deps.store.remove(file.sha256);
      throw e;
    }
  } catch (e) {
    // A refused file is part of the record: who tried to deliver what (by hash) to which case.
    if (e instanceof ServerError && (e.code === "NOT_CMS" || e.code === "RECIPIENTS_MISMATCH")) {
      const code = e.code;
      await deps.db.tx((uow) =>
        uow.audit.append(
          {
            ...auditBase(actor),
            action: `case.${kind}_refused`,
            caseId,
            fileSha256: [file.sha256],
            detail: { code, size: file.size },
          },
          deps.clock.now(),
        ),
      );
    }
    throw e;
  } finally {
    await rm(file.tempPath, { force: true });
  }
}

/**
 * The uploader record of a file: the authenticated caller, their agency and the SHA-256 of every signing certificate
 * registered and active for them now (the receiver checks the file's CMS signer against these).
 */
async function uploaderRecord(uow: UnitOfWork, now: Date, actor: Actor): Promise<string> {
  const dto: FileUploaderDto = {
    staffId: actor.staffId,
    agency: actor.agency,
    signingCertSha256: (await activeCertificates(uow, now, actor.staffId, "sign")).map((r) => r.sha256),
  };
  return JSON.stringify(dto);
}

async function recordFile(
  deps: CaseDeps,
  uow: UnitOfWork,
  actor: Actor,
  c: CaseRow,
  kind: FileKind,
  file: IncomingFile,
  expected: CertRow[],
): Promise<CaseDto> {
  const now = deps.clock.now();
  const t = now.toISOString();
  await uow.files.record(file.sha256, file.size, t);
  const uploadedBy = await uploaderRecord(uow, now, actor);
  let row: CaseRow;
  if (kind === "payload") {
    row = await transition(uow, c.id, "upload_payload", now, {
      payload_sha256: file.sha256,
      payload_size: file.size,
      payload_at: t,
      payload_uploaded_by: uploadedBy,
    });
    await noticeSent(uow, now, c, deps.config.publicUrl);
  } else {
    row = await transition(uow, c.id, "upload_result", now, {
      result_sha256: file.sha256,
      result_size: file.size,
      result_at: t,
      result_uploaded_by: uploadedBy,
    });
    await uow.cases.addRecipients(
      expected.map((r) => ({ case_id: c.id, side: "result", cert_id: r.id, staff_id: r.staff_id, role: "result" })),
      true,
    );
    await noticeProcessed(uow, now, c, deps.config.publicUrl);
  }
  await uow.audit.append(
    {
      ...auditBase(actor),
      action: kind === "payload" ? "case.upload_payload" : "case.upload_result",
      caseId: c.id,
      fileSha256: [file.sha256],
      detail: { size: file.size, from: c.state, to: row.state },
    },
    now,
  );
  return caseDto(row);
}

/**
 * Only the people a file is for may fetch it (FORBIDDEN otherwise, before anything is recorded): the payload the
 * receiving staff named on the case; the result, once uploaded, the sending agency's staff it was sealed to. (Before
 * the result exists the transition answers ILLEGAL_TRANSITION as for anyone on the sending side.)
 */
async function assertNamedRecipient(deps: CaseDeps, actor: Actor, c: CaseRow, kind: FileKind): Promise<void> {
  if (kind === "payload") {
    if (!(await deps.db.read((uow) => uow.cases.isNamedReceiver(c.id, actor.staffId)))) {
      throw new ServerError("FORBIDDEN", `Only the receiving staff named on case ${c.id} can download its payload.`, {
        hint: "Ask the sending agency to name you as a receiver, or a named colleague to fetch it.",
      });
    }
  } else if (c.result_sha256) {
    if (!(await deps.db.read((uow) => uow.cases.isResultRecipient(c.id, actor.staffId)))) {
      throw new ServerError("FORBIDDEN", `The result of case ${c.id} was not sealed to you: you cannot download it.`, {
        hint: "A colleague the result was sealed to can fetch it.",
      });
    }
  }
}

/**
 * Records a download (payload by the receiving staff named on the case, result by the sending staff it was sealed
 * to) as an audit entry, and returns the file's hash and size. A download moves no case: the receiver's signed
 * receipt does (see receipts.ts). `checkSize` may throw (e.g. an unsatisfiable range) to refuse before anything is
 * recorded. The caller streams the bytes afterwards.
 */
export async function recordDownload(
  deps: CaseDeps,
  actor: Actor,
  caseId: string,
  kind: FileKind,
  range: string | undefined,
  checkSize: (size: number) => void = () => {},
): Promise<{ sha256: string; size: number }> {
  const side: Side = kind === "payload" ? "receiver" : "sender";
  const c = visibleCase(actor, await deps.db.read((uow) => uow.cases.get(caseId)), caseId, side);
  await assertNamedRecipient(deps, actor, c, kind);
  return deps.db.tx(async (uow) => {
    const now = deps.clock.now();
    const row = await uow.cases.get(caseId);
    if (!row) throw new ServerError("NOT_FOUND", `No case ${caseId} visible to you.`);
    assertAllowed(row, kind === "payload" ? "download_payload" : "download_result");
    const sha = kind === "payload" ? row.payload_sha256 : row.result_sha256;
    const size = kind === "payload" ? row.payload_size : row.result_size;
    if (!sha || size === null) throw new ServerError("NOT_FOUND", `Case ${caseId} has no ${kind} file.`);
    const f = await uow.files.get(sha);
    // Purged from this case stays purged, also when the same bytes were stored again for another case.
    if (!f || f.purged_at || (await uow.retention.wasPurgedFor(sha, caseId, kind))) throw new ServerError("FILE_GONE");
    checkSize(size);
    await uow.audit.append(
      {
        ...auditBase(actor),
        action: kind === "payload" ? "case.download_payload" : "case.download_result",
        caseId,
        fileSha256: [sha],
        detail: { state: row.state, ...(range ? { range } : {}) },
      },
      now,
    );
    return { sha256: sha, size };
  });
}

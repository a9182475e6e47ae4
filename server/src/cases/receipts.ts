import { verify } from "node:crypto";
import { canonicalJson, type ReceiptDto, type ReceiptRequest } from "@sealpost/protocol";
import { certificateToPem, PkiError } from "@sealpost/pki";
import { receiptAnchors, type ReceiptAnchor } from "../audit/anchors.js";
import type { Actor } from "../context.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { certOf } from "../registry/certificates.js";
import { activeCertificates } from "../registry/service.js";
import { auditBase } from "./audit.js";
import type { CaseDeps } from "./deps.js";
import type { ReceiptListRow } from "./repository.js";
import { assertAllowed, visibleCase } from "./rules.js";
import { transition } from "./transition.js";

function receiptDto(r: ReceiptListRow, anchor?: ReceiptAnchor): ReceiptDto {
  return {
    ...anchor,
    id: r.id,
    staffId: r.staff_id,
    staffName: r.name,
    receivedAt: r.created_at,
    certSha256: r.cert_sha,
    statement: JSON.parse(r.statement),
    signature: r.signature,
    certificatePem: certificateToPem(certOf({ der: r.der, chain_pem: "" }).cert),
  };
}

/** The receipts of a case, each with the signer's certificate so anyone can check them again. */
export async function listReceipts(deps: CaseDeps, actor: Actor, caseId: string): Promise<ReceiptDto[]> {
  return deps.db.read(async (uow) => {
    visibleCase(actor, await uow.cases.get(caseId), caseId, "either");
    const anchors = await receiptAnchors(uow, caseId);
    return (await uow.cases.receipts(caseId)).map((r) => receiptDto(r, anchors.get(r.id)));
  });
}

/**
 * The receipt the actor already gave for this case and kind, when `req` is exactly it (same statement, signature and
 * certificate); undefined when there is none; CONFLICT (409) when there is a different one.
 */
async function existingReceipt(
  uow: UnitOfWork,
  actor: Actor,
  caseId: string,
  req: ReceiptRequest,
): Promise<ReceiptDto | undefined> {
  const keptId = await uow.cases.receiptId(caseId, req.statement.kind, actor.staffId);
  if (keptId === undefined) return undefined;
  const anchors = await receiptAnchors(uow, caseId);
  const dto = (await uow.cases.receipts(caseId))
    .map((r) => receiptDto(r, anchors.get(r.id)))
    .find((r) => r.id === keptId)!;
  const same =
    canonicalJson(dto.statement) === canonicalJson(req.statement) &&
    dto.signature === req.signature &&
    dto.certSha256 === String(req.certSha256).toLowerCase();
  if (!same) {
    throw new ServerError(
      "CONFLICT",
      `You already signed a ${req.statement.kind} receipt for case ${caseId} (#${keptId}).`,
      {
        details: { receiptId: keptId },
      },
    );
  }
  return dto;
}

/**
 * Verifies and keeps a signed receipt. Payload receipts come from a receiving staff member the payload was sealed
 * to, once it was sent; result receipts from the sending side once the result was uploaded (the states:
 * CASE_RECORDS in packages/protocol). The first payload receipt makes a sent case received, the first result
 * receipt makes a processed case result_received (in the same transaction as the receipt and its audit entry). The signature (over canonicalJson(statement)) must verify with one of the
 * signer's active registered signing certificates, re-validated now, and statement.sha256 must be the case's file.
 * One receipt per (case, kind, person): posting the same receipt again returns the one kept (`created` false,
 * nothing new recorded); a different one is CONFLICT (409). Kept under the case's row lock, so two instances
 * posting at once keep one.
 */
export async function addReceipt(
  deps: CaseDeps,
  actor: Actor,
  caseId: string,
  req: ReceiptRequest,
): Promise<{ receipt: ReceiptDto; created: boolean }> {
  const st = req?.statement;
  if (st?.type !== "sealpost-receipt" || (st.kind !== "payload" && st.kind !== "result")) {
    throw new ServerError("BAD_REQUEST", "A receipt needs a sealpost-receipt statement of kind payload or result.");
  }
  const bad = (message: string) => new ServerError("BAD_RECEIPT", message);
  const c = visibleCase(
    actor,
    await deps.db.read((uow) => uow.cases.get(caseId)),
    caseId,
    st.kind === "payload" ? "receiver" : "sender",
  );
  if (st.kind === "payload" && !(await deps.db.read((uow) => uow.cases.isNamedReceiver(caseId, actor.staffId)))) {
    throw new ServerError("FORBIDDEN", "Only a receiving staff member named on the case signs its receipt.");
  }
  if (st.caseId !== caseId) throw bad("The receipt names another case.");
  assertAllowed(c, st.kind === "payload" ? "payload_receipt" : "result_receipt");
  const fileSha = st.kind === "payload" ? c.payload_sha256 : c.result_sha256;
  if (!fileSha || st.sha256 !== fileSha) throw bad(`The receipt's SHA-256 is not the case's ${st.kind} file.`);
  if (!Number.isFinite(Date.parse(st.time))) throw bad("The receipt's time is not a valid time.");
  // One receipt per (case, kind, person): the same receipt again is answered with the one kept; another is a conflict.
  const again = await deps.db.read((uow) => existingReceipt(uow, actor, caseId, req));
  if (again) return { receipt: again, created: false };
  const row = (await deps.db.tx((uow) => activeCertificates(uow, deps.clock.now(), actor.staffId, "sign"))).find(
    (r) => r.sha256 === String(req.certSha256).toLowerCase(),
  );
  if (!row) throw bad("The receipt's certificate is not one of your active registered signing certificates.");
  const { cert, chain } = certOf(row);
  await deps.validator.validate(cert, "sign", chain);
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
  return deps.db.tx(async (uow) => {
    // Checked again under the case's lock: another request may have kept a receipt while the signature was checked.
    await uow.cases.lock(caseId);
    const raced = await existingReceipt(uow, actor, caseId, req);
    if (raced) return { receipt: raced, created: false };
    const now = deps.clock.now();
    // The first receipt moves the case (sent -> received, processed -> result_received); later ones are recorded.
    const current = await uow.cases.get(caseId);
    if (!current) throw new ServerError("NOT_FOUND", `No case ${caseId} visible to you.`);
    assertAllowed(current, st.kind === "payload" ? "payload_receipt" : "result_receipt");
    let moved: { from: string; to: string } | undefined;
    if (st.kind === "payload" && current.state === "sent") {
      await transition(uow, caseId, "receive_payload", now);
      moved = { from: current.state, to: "received" };
    } else if (st.kind === "result" && current.state === "processed") {
      await transition(uow, caseId, "receive_result", now, { ended_at: now.toISOString() });
      moved = { from: current.state, to: "result_received" };
    }
    const id = await uow.cases.addReceipt({
      case_id: caseId,
      kind: st.kind,
      staff_id: actor.staffId,
      cert_id: row.id,
      sha256: st.sha256,
      statement: canonicalJson(st),
      signature: req.signature,
      created_at: now.toISOString(),
    });
    const entry = await uow.audit.append(
      {
        ...auditBase(actor),
        action: `case.receipt_${st.kind}`,
        caseId,
        fileSha256: [st.sha256],
        detail: { receiptId: id, certSha256: row.sha256, ...(moved ?? {}) },
      },
      now,
    );
    const anchors = await receiptAnchors(uow, caseId, entry.seq);
    const kept = (await uow.cases.receipts(caseId)).find((r) => r.id === id)!;
    return { receipt: receiptDto(kept, anchors.get(id)), created: true };
  });
}

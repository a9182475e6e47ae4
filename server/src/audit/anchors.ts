import type { UnitOfWork } from "../db/uow.js";
import { MAX_CASE_ENTRIES, treeHeadDto } from "./service.js";

/** Where a receipt sits in the audit log: its entry's sequence number and the signed head that first included it. */
export interface ReceiptAnchor {
  auditSeq: number;
  /** Absent when the relay signed no head for that size (no audit key at the time). */
  treeHead?: ReturnType<typeof treeHeadDto>;
}

/**
 * The anchors of a case's receipts by receipt id, from the case's `case.receipt_*` audit entries (their
 * detail.receiptId); `upTo` limits the entries read to those up to that sequence number (default all).
 */
export async function receiptAnchors(
  uow: UnitOfWork,
  caseId: string,
  upTo?: number,
): Promise<Map<number, ReceiptAnchor>> {
  const out = new Map<number, ReceiptAnchor>();
  for (const e of await uow.audit.forCase(caseId, MAX_CASE_ENTRIES)) {
    if (upTo !== undefined && e.seq > upTo) break;
    const id = e.detail.receiptId;
    if (!e.action.startsWith("case.receipt_") || typeof id !== "number") continue;
    const head = await uow.audit.headAt(e.seq);
    out.set(id, { auditSeq: e.seq, ...(head ? { treeHead: treeHeadDto(head) } : {}) });
  }
  return out;
}

import type { UnitOfWork } from "../db/uow.js";
import type { OutboxMessage } from "../mail/outbox.js";
import { type CaseMailInfo, renderNewCaseMail, renderProcessedMail } from "../mail/templates.js";
import type { CaseRow } from "./repository.js";

/**
 * The e-mail notices of case events, queued in the mail outbox inside the transaction of the change they announce
 * (so a notice exists exactly when its change is committed). Only active staff are written to; a notice with no
 * address left is not queued.
 */

function mailInfo(c: CaseRow, publicUrl: string | undefined): CaseMailInfo {
  return {
    caseId: c.id,
    category: c.category,
    senderAgency: c.sender_agency,
    receivingAgency: c.receiving_agency,
    recordCount: c.record_count,
    uploadNo: c.upload_no,
    ...(publicUrl ? { publicUrl } : {}),
  };
}

/** The e-mail addresses of those of `ids` who are active staff, each once. */
async function activeEmails(uow: UnitOfWork, ids: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const id of ids) {
    const s = await uow.registry.staff(id);
    if (s && s.active === 1) out.add(s.email);
  }
  return [...out];
}

async function queue(uow: UnitOfWork, now: Date, staffIds: string[], msg: Omit<OutboxMessage, "to">): Promise<void> {
  const to = await activeEmails(uow, staffIds);
  if (to.length > 0) await uow.mail.enqueue({ ...msg, to }, now);
}

/** To the receiving staff named on the case: a sealed payload is waiting. */
export async function noticeSent(uow: UnitOfWork, now: Date, c: CaseRow, publicUrl?: string): Promise<void> {
  await queue(uow, now, await uow.cases.receiverStaffIds(c.id), {
    ...renderNewCaseMail(mailInfo(c, publicUrl)),
    kind: "case.sent",
    caseId: c.id,
  });
}

/** To the sender: the result is ready. */
export async function noticeProcessed(uow: UnitOfWork, now: Date, c: CaseRow, publicUrl?: string): Promise<void> {
  await queue(uow, now, [c.sender_staff], {
    ...renderProcessedMail(mailInfo(c, publicUrl)),
    kind: "case.processed",
    caseId: c.id,
  });
}

/** To the receiving staff named on the case: the sender withdrew it. */
export async function noticeCancelled(uow: UnitOfWork, now: Date, c: CaseRow): Promise<void> {
  await queue(uow, now, await uow.cases.receiverStaffIds(c.id), {
    subject: `[sealpost] 案件 ${c.id} 已撤回 (withdrawn)`,
    text: `Agency ${c.sender_agency} withdrew case ${c.id}. Nothing more to do.\n`,
    kind: "case.cancelled",
    caseId: c.id,
  });
}

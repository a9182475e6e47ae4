/** Transfer case states (DESIGN section 2), with the labels staff know. */
export const CASE_STATES = {
  registered: "已登錄",
  sent: "已傳送",
  received: "已收件",
  processed: "處理完成",
  result_received: "結果檔已接收",
  cancelled: "已撤回",
} as const;

export type CaseState = keyof typeof CASE_STATES;

/**
 * Case actions and the state each one moves from and to. Anything not listed here is an illegal transition. A case
 * becomes received (and result received) by the first signed receipt that says the file was opened and verified,
 * never by a download: a download that could not be opened moves nothing, and the sender can still cancel.
 */
export const CASE_TRANSITIONS = {
  upload_payload: { from: ["registered"], to: "sent", side: "sender" },
  receive_payload: { from: ["sent"], to: "received", side: "receiver" },
  add_note: { from: ["received"], to: "received", side: "receiver" },
  upload_result: { from: ["received"], to: "processed", side: "receiver" },
  receive_result: { from: ["processed"], to: "result_received", side: "sender" },
  cancel: { from: ["registered", "sent"], to: "cancelled", side: "sender" },
} as const satisfies Record<string, { from: readonly CaseState[]; to: CaseState; side: "sender" | "receiver" }>;

export type CaseAction = keyof typeof CASE_TRANSITIONS;

/**
 * What is done on a case without moving it by itself, and the states each is allowed in: downloads (recorded in the
 * audit), and signed receipts. The first payload receipt of a sent case also makes it received (receive_payload),
 * the first result receipt of a processed case makes it result_received (receive_result); later receipts (other
 * named staff, or the same receipt again) are only recorded.
 */
export const CASE_RECORDS = {
  download_payload: { in: ["sent", "received", "processed", "result_received"], side: "receiver" },
  download_result: { in: ["processed", "result_received"], side: "sender" },
  payload_receipt: { in: ["sent", "received", "processed", "result_received"], side: "receiver" },
  result_receipt: { in: ["processed", "result_received"], side: "sender" },
} as const satisfies Record<string, { in: readonly CaseState[]; side: "sender" | "receiver" }>;

export type CaseRecord = keyof typeof CASE_RECORDS;

/** The states in which `action` (a transition or a record) is allowed. */
export function allowedStates(action: CaseAction | CaseRecord): readonly CaseState[] {
  return action in CASE_TRANSITIONS
    ? CASE_TRANSITIONS[action as CaseAction].from
    : CASE_RECORDS[action as CaseRecord].in;
}

/** The state after `action` from `state`, or undefined when the transition is illegal. */
export function nextState(state: CaseState, action: CaseAction): CaseState | undefined {
  const t = CASE_TRANSITIONS[action];
  return (t.from as readonly CaseState[]).includes(state) ? t.to : undefined;
}

/**
 * The transfer manifest that binds a sealed file to its case (carried as a signed attribute, see packages/cms).
 * Every field is optional: a file sealed outside a case carries what the sender gave.
 */
export interface TransferManifest {
  caseId?: string;
  senderAgency?: string;
  receivingAgency?: string;
  fileName?: string;
  byteSize?: number;
  recordCount?: number;
  uploadNo?: string;
  /**
   * SHA-256 (lower-case hex) of the DER of each recipient's encryption certificate: whom the sender sealed the file
   * for. `open` refuses a file whose opener is not among them (a forwarded file).
   */
  recipients?: string[];
}

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

/** Case actions and the state each one moves from and to. Anything not listed here is an illegal transition. */
export const CASE_TRANSITIONS = {
  upload_payload: { from: ["registered"], to: "sent", side: "sender" },
  download_payload: { from: ["sent", "received"], to: "received", side: "receiver" },
  add_note: { from: ["received"], to: "received", side: "receiver" },
  upload_result: { from: ["received"], to: "processed", side: "receiver" },
  download_result: { from: ["processed", "result_received"], to: "result_received", side: "sender" },
  cancel: { from: ["registered", "sent"], to: "cancelled", side: "sender" },
} as const satisfies Record<string, { from: readonly CaseState[]; to: CaseState; side: "sender" | "receiver" }>;

export type CaseAction = keyof typeof CASE_TRANSITIONS;

/**
 * What is recorded on a case without moving it (signed receipts), and the states each is allowed in: a payload
 * receipt once the receiving side fetched the payload, a result receipt once the sender fetched the result.
 */
export const CASE_RECORDS = {
  payload_receipt: { in: ["received", "processed", "result_received"], side: "receiver" },
  result_receipt: { in: ["result_received"], side: "sender" },
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

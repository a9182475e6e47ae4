import { allowedStates, type CaseAction, type CaseRecord } from "@sealpost/protocol";
import type { Actor } from "../context.js";
import { ServerError } from "../errors.js";
import type { CaseRow } from "./repository.js";

/**
 * Who may see and act on a case, and in which states: the case rules in one place. The states come from
 * packages/protocol (CASE_TRANSITIONS, CASE_RECORDS).
 */

export type Side = "sender" | "receiver";

/** The sides of a case the actor's agency is on. */
export function sidesOf(actor: Actor, c: CaseRow): Side[] {
  const s: Side[] = [];
  if (c.sender_agency === actor.agency) s.push("sender");
  if (c.receiving_agency === actor.agency) s.push("receiver");
  return s;
}

/** Only role "staff" acts on cases; FORBIDDEN with `what` otherwise. */
export function requireStaff(actor: Actor, what = "Only agency staff act on transfer cases."): void {
  if (actor.role !== "staff") throw new ServerError("FORBIDDEN", what);
}

/**
 * The case `c` (looked up by `id`) if `actor` may act on it from `side` ("either" for reading). A case of another
 * agency, or none, is NOT_FOUND (its existence is not disclosed); the wrong side of an own case is FORBIDDEN.
 */
export function visibleCase(actor: Actor, c: CaseRow | undefined, id: string, side: Side | "either"): CaseRow {
  requireStaff(actor);
  const sides = c ? sidesOf(actor, c) : [];
  if (!c || sides.length === 0) throw new ServerError("NOT_FOUND", `No case ${id} visible to you.`);
  if (side !== "either" && !sides.includes(side)) {
    throw new ServerError("FORBIDDEN", `Only the ${side === "sender" ? "sending" : "receiving"} agency can do this.`);
  }
  return c;
}

/** What each state means to a user, as the start of a sentence about case `id`. */
const STATE_WORDS: Record<string, (id: string) => string> = {
  registered: (id) => `Case ${id} is registered, but its file has not been sent yet`,
  sent: (id) => `Case ${id} has been sent, but not received yet`,
  received: (id) => `Case ${id} has been received`,
  processed: (id) => `Case ${id} has been answered with a result`,
  result_received: (id) => `Case ${id} is complete: its result has been received`,
  cancelled: (id) => `Case ${id} was cancelled by the sending agency`,
};

/** The refusal in users' words: why (the case's state) and what to do next. */
function refusalWords(id: string, state: string, action: CaseAction | CaseRecord): { message: string; hint: string } {
  const show = `\`sealpost case show ${id}\` shows its state${state === "cancelled" ? " and the reason" : ""}.`;
  const where = (STATE_WORDS[state] ?? ((c: string) => `Case ${c} is ${state}`))(id);
  if (state === "cancelled") {
    return { message: `${where}: nothing more can be done with it.`, hint: `Ask the sending agency; ${show}` };
  }
  const before = (s: string) => allowedStates(action).every((a) => stateOrder(a) > stateOrder(s));
  switch (action) {
    case "upload_payload":
      return {
        message: `${where}: its file was already sent.`,
        hint: `To send another file, register a new case: \`sealpost send FILE --to-agency CODE ...\`. ${show}`,
      };
    case "receive_payload":
    case "download_payload":
    case "payload_receipt":
      return {
        message: `${where}: there is no file to receive yet.`,
        hint: `Wait until the sending agency sends it (you get an e-mail notice). ${show}`,
      };
    case "add_note":
    case "upload_result":
      return before(state)
        ? {
            message: `This case has not been received yet: run \`sealpost receive ${id}\` first.`,
            hint: `Receive it (\`sealpost receive ${id}\`), then ${action === "add_note" ? "add the note" : "reply"}. ${show}`,
          }
        : {
            message: `${where}: its result was already uploaded, so it can no longer change.`,
            hint: `${action === "add_note" ? "Notes are added before the reply" : "A case has one result"}; ${show}`,
          };
    case "receive_result":
    case "download_result":
    case "result_receipt":
      return {
        message: `${where}: the receiving agency has not sent a result yet.`,
        hint: `Wait for their reply (you get an e-mail notice). ${show}`,
      };
    case "cancel":
      return {
        message: `${where}: the receiving agency already has it, so it can no longer be cancelled.`,
        hint: `Tell the receiving agency instead. ${show}`,
      };
    default:
      return { message: `${where}.`, hint: show };
  }
}

const ORDER = ["registered", "sent", "received", "processed", "result_received"];
const stateOrder = (s: string) => {
  const i = ORDER.indexOf(s);
  return i < 0 ? ORDER.length : i;
};

/**
 * ILLEGAL_TRANSITION (409) for `action` on a case in `state`: the message says in users' words what state the case
 * is in and the hint what to do next; `details` carry the facts (caseId, state, action, allowedFrom).
 */
export function illegal(caseId: string, state: string, action: CaseAction | CaseRecord): ServerError {
  const from = allowedStates(action);
  const words = refusalWords(caseId, state, action);
  return new ServerError("ILLEGAL_TRANSITION", words.message, {
    hint: words.hint,
    details: { caseId, state, action, allowedFrom: from },
  });
}

/** Throws ILLEGAL_TRANSITION unless the case's state allows `action`. */
export function assertAllowed(c: Pick<CaseRow, "id" | "state">, action: CaseAction | CaseRecord): void {
  if (!allowedStates(action).includes(c.state)) throw illegal(c.id, c.state, action);
}

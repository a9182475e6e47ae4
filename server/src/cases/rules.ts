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

/** ILLEGAL_TRANSITION (409) for `action` on a case in `state`. */
export function illegal(caseId: string, state: string, action: CaseAction | CaseRecord): ServerError {
  const from = allowedStates(action);
  return new ServerError("ILLEGAL_TRANSITION", `Case ${caseId} is ${state}; "${action}" needs ${from.join(" or ")}.`, {
    details: { caseId, state, action, allowedFrom: from },
  });
}

/** Throws ILLEGAL_TRANSITION unless the case's state allows `action`. */
export function assertAllowed(c: Pick<CaseRow, "id" | "state">, action: CaseAction | CaseRecord): void {
  if (!allowedStates(action).includes(c.state)) throw illegal(c.id, c.state, action);
}

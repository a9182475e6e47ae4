import { CASE_TRANSITIONS, type CaseAction } from "@sealpost/protocol";
import type { Updateable } from "kysely";
import type { CasesTable } from "../db/schema.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import type { CaseRow } from "./repository.js";
import { illegal } from "./rules.js";

/**
 * Moves a case by `action` inside the caller's transaction: one conditional UPDATE from the action's from-states
 * (packages/protocol CASE_TRANSITIONS), so of two concurrent actions exactly one wins. Throws ILLEGAL_TRANSITION
 * (409) when the case is not (or no longer) in a from-state, NOT_FOUND when there is no such case. `set` adds
 * column updates.
 */
export async function transition(
  uow: UnitOfWork,
  id: string,
  action: CaseAction,
  now: Date,
  set: Updateable<CasesTable> = {},
): Promise<CaseRow> {
  const t = CASE_TRANSITIONS[action];
  const row = await uow.cases.transition(id, t.from, t.to, now.toISOString(), set);
  if (row) return row;
  const current = await uow.cases.get(id);
  if (!current) throw new ServerError("NOT_FOUND", `No case ${id}.`);
  throw illegal(id, current.state, action);
}

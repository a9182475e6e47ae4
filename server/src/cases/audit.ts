import type { AuditEntryInput } from "../audit/log.js";
import type { Actor } from "../context.js";

/** Who an audit entry of a case action names: the staff member, their role and agency, and where from. */
export function auditBase(actor: Actor): Pick<AuditEntryInput, "actor" | "role" | "agency" | "source"> {
  return { actor: actor.staffId, role: actor.role, agency: actor.agency, source: actor.source };
}

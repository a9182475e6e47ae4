import type { AgencyDto, CategoryDto, StaffDto } from "@sealpost/protocol";
import { type SubjectRule, subjectRuleText } from "@sealpost/pki";
import type { AgencyRow, CategoryRow, StaffRow } from "./repository.js";

/** The agency's subject rules as stored (agencies.subject_rules, JSON of {attribute, value}). */
export const subjectRulesOf = (r: Pick<AgencyRow, "subject_rules">): SubjectRule[] =>
  JSON.parse(r.subject_rules) as SubjectRule[];

export const agencyDto = (r: AgencyRow): AgencyDto => ({
  code: r.code,
  name: r.name,
  email: r.email,
  allowCidrs: JSON.parse(r.allow_cidrs) as string[],
  subjectRules: subjectRulesOf(r).map(subjectRuleText),
  active: r.active === 1,
});

export const staffDto = (r: StaffRow): StaffDto => ({
  id: r.id,
  agency: r.agency,
  name: r.name,
  email: r.email,
  role: r.role,
  active: r.active === 1,
});

export const categoryDto = (r: CategoryRow): CategoryDto => ({
  code: r.code,
  name: r.name,
  purpose: r.purpose,
  active: r.active === 1,
});

import type { AgencyDto, CategoryDto, StaffDto } from "@sealpost/protocol";
import type { AgencyRow, CategoryRow, StaffRow } from "./repository.js";

export const agencyDto = (r: AgencyRow): AgencyDto => ({
  code: r.code,
  name: r.name,
  email: r.email,
  allowCidrs: JSON.parse(r.allow_cidrs) as string[],
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

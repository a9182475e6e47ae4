import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the registry domain (after core-001..005, which hold its agencies, staff, certificates and
 * categories tables).
 *
 * - registry-001: `agencies.subject_rules`, a JSON array of `{attribute, value}` (e.g. `{"attribute":"O",
 *   "value":"高雄市稅捐稽徵處"}`): the subject attributes every certificate of the agency's staff must carry.
 *   Default '[]' (no rule beyond the person's name and e-mail).
 */
export const migrations: Migration[] = [
  {
    id: "registry-001",
    sqlite: `ALTER TABLE agencies ADD COLUMN subject_rules TEXT NOT NULL DEFAULT '[]';`,
    postgres: `ALTER TABLE agencies ADD COLUMN subject_rules TEXT NOT NULL DEFAULT '[]';`,
  },
];

/**
 * One schema step, written for both databases. `id` is "<domain>-NNN" ("core-001", "mail-001", ...); each form is
 * a SQL script run once, inside a transaction, recorded in `schema_migrations`. Never edit an applied step.
 */
export interface Migration {
  id: string;
  sqlite: string;
  postgres: string;
}

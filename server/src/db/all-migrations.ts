import { migrations as uploadLease } from "../cases/upload-lease.js";
import { migrations as crls } from "../crls/migrations.js";
import { migrations as drops } from "../drops/migrations.js";
import { migrations as mail } from "../mail/migrations.js";
import { migrations as core } from "./core-migrations.js";
import type { Migration } from "./migration.js";

/** Every module's migrations in the order they apply: core, then mail (and retention), drops, upload leases, CRLs. */
export const ALL_MIGRATIONS: Migration[] = [...core, ...mail, ...drops, ...uploadLease, ...crls];

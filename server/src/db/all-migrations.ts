import { migrations as audit } from "../audit/migrations.js";
import { migrations as auth } from "../auth/migrations.js";
import { migrations as consoleLogin } from "../console/migrations.js";
import { migrations as crls } from "../crls/migrations.js";
import { migrations as drops } from "../drops/migrations.js";
import { migrations as jobs } from "../jobs/migrations.js";
import { migrations as mail } from "../mail/migrations.js";
import { migrations as registry } from "../registry/migrations.js";
import { migrations as retention } from "../retention/migrations.js";
import { migrations as rosters } from "../rosters/migrations.js";
import { migrations as core } from "./core-migrations.js";
import type { Migration } from "./migration.js";

/** Every module's migrations in the order they apply: core, mail, retention, drops, then each domain's later steps, then the web console's login tables, then the CRL cache, the registry's later steps, the audit log's tree and rosters. */
export const ALL_MIGRATIONS: Migration[] = [
  ...core,
  ...mail,
  ...retention,
  ...drops,
  ...auth,
  ...jobs,
  ...consoleLogin,
  ...crls,
  ...registry,
  ...audit,
  ...rosters,
];

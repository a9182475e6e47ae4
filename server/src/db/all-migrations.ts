import { migrations as auth } from "../auth/migrations.js";
import { migrations as consoleLogin } from "../console/migrations.js";
import { migrations as drops } from "../drops/migrations.js";
import { migrations as jobs } from "../jobs/migrations.js";
import { migrations as mail } from "../mail/migrations.js";
import { migrations as retention } from "../retention/migrations.js";
import { migrations as rosters } from "../rosters/migrations.js";
import { migrations as core } from "./core-migrations.js";
import type { Migration } from "./migration.js";

/** Every module's migrations in the order they apply: core, mail, retention, drops, then each domain's later steps, then the web console's login tables, then rosters. */
export const ALL_MIGRATIONS: Migration[] = [
  ...core,
  ...mail,
  ...retention,
  ...drops,
  ...auth,
  ...jobs,
  ...consoleLogin,
  ...rosters,
];

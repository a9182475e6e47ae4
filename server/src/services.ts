import { AuditService } from "./audit/service.js";
import { type AuthService, createAuthService } from "./auth/service.js";
import { type CaseService, createCaseService } from "./cases/service.js";
import { type ConsoleService, createConsoleService } from "./console/service.js";
import type { ServerContext } from "./context.js";
import { corePayloadSink } from "./drops/core-sink.js";
import { coreDeliverySource } from "./drops/ports.js";
import { DropService } from "./drops/service.js";
import { createOpsService, type OpsService } from "./ops/service.js";
import { createRegistryService, type RegistryService } from "./registry/service.js";
import { createRosterService, type RosterService } from "./rosters/service.js";

/** Every domain's service, built once over one context (the composition root of the server). */
export interface Services {
  audit: AuditService;
  auth: AuthService;
  registry: RegistryService;
  cases: CaseService;
  drops: DropService;
  console: ConsoleService;
  ops: OpsService;
  rosters: RosterService;
}

/**
 * Builds the domains' services. Nothing starts here: the drop scheduler and the other background jobs are started
 * by startJobs (jobs.ts), the HTTP plugins by buildApp (http/app.ts).
 */
export function createServices(ctx: ServerContext): Services {
  const cases = createCaseService({
    db: ctx.db,
    clock: ctx.clock,
    validator: ctx.validator,
    store: ctx.store,
    log: ctx.log,
    config: ctx.config,
  });
  const consoleLogin = createConsoleService({ db: ctx.db, clock: ctx.clock, config: ctx.config });
  return {
    audit: new AuditService(ctx.db, ctx.db.auditKey),
    auth: createAuthService({
      db: ctx.db,
      clock: ctx.clock,
      validator: ctx.validator,
      config: ctx.config,
      sessions: consoleLogin,
    }),
    console: consoleLogin,
    ops: createOpsService({ db: ctx.db, clock: ctx.clock, config: ctx.config }),
    registry: createRegistryService({ db: ctx.db, clock: ctx.clock, validator: ctx.validator }),
    rosters: createRosterService({
      db: ctx.db,
      clock: ctx.clock,
      validator: ctx.validator,
      trust: ctx.trust,
      intermediates: ctx.intermediates,
    }),
    cases,
    drops: new DropService({
      db: ctx.db,
      dataDir: ctx.dataDir,
      payloads: corePayloadSink({ cases, db: ctx.db }),
      deliveries: coreDeliverySource(ctx.db, ctx.store),
      tempPath: () => ctx.store.tempPath(),
      log: ctx.log,
      maxFileBytes: ctx.config.maxUploadBytes,
      ...(ctx.config.drops?.opTimeoutMs ? { sftp: { opTimeoutMs: ctx.config.drops.opTimeoutMs } } : {}),
      ...(ctx.config.drops?.maxListEntries ? { maxListEntries: ctx.config.drops.maxListEntries } : {}),
      ...(ctx.config.drops?.stopTimeoutMs ? { stopTimeoutMs: ctx.config.drops.stopTimeoutMs } : {}),
      instance: ctx.instance,
      now: () => ctx.clock.now(),
    }),
  };
}

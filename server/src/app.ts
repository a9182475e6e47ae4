import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { UPLOAD_LEASE_PREFIX } from "./cases/upload-lease.js";
import { type Clock, systemClock } from "./clock.js";
import { loadConfig, type ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { databasePath, openDb } from "./db/open.js";
import { tightenDataPermissions } from "./db/private-files.js";
import { LocalFileStore } from "./files/store.js";
import type { Logger } from "./log.js";
import { trustValidator } from "./registry/certificates.js";
import { loadTrust } from "./trust.js";

/**
 * Opens a data folder for serving: config, database (migrated), file store and trust policy. With `sweep` (default
 * true) it first removes temporary upload files and stored files no case references (left by a crash), so nothing
 * half-received is ever visible.
 */
export async function createContext(
  dataDir: string,
  options: { log: Logger; sweep?: boolean; config?: Partial<ServerConfig>; clock?: Clock },
): Promise<ServerContext> {
  const config = { ...loadConfig(dataDir), ...options.config };
  const clock = options.clock ?? systemClock;
  const db = await openDb(dataDir, config.database, { clock });
  try {
    tightenDataPermissions(dataDir, config.database ? undefined : databasePath(dataDir), options.log);
    const store = new LocalFileStore(dataDir);
    await store.ensure();
    if (options.sweep ?? true) {
      // SQLite has one instance: everything left is a leftover. On PostgreSQL other instances may be writing to the
      // shared store right now: only what nobody touched for sweepGraceMs goes.
      const graceMs = config.database ? (config.sweepGraceMs ?? 3600_000) : 0;
      const swept = await store.sweep((sha) => db.read((uow) => uow.files.known(sha)), {
        graceMs,
        now: clock.now(),
      });
      if (swept.temp || swept.orphans) options.log.warn("removed leftovers of interrupted uploads", swept);
      // The uploads those leases guarded died with the previous process (SQLite: this is the only instance).
      if (!config.database) await db.tx((uow) => uow.leases.releaseAll(UPLOAD_LEASE_PREFIX));
    }
    const { policy, intermediates } = await loadTrust(dataDir, config, {
      db,
      log: options.log,
      now: () => clock.now(),
    });
    return {
      dataDir,
      db,
      clock,
      instance: `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
      config,
      store,
      trust: policy,
      validator: trustValidator(policy, intermediates),
      intermediates,
      log: options.log,
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/** Closes what createContext opened: the database connections. */
export async function closeContext(ctx: ServerContext): Promise<void> {
  await ctx.db.close();
}

import { type Clock, systemClock } from "./clock.js";
import { loadConfig, type ServerConfig } from "./config.js";
import type { Notice, ServerContext } from "./context.js";
import { Db } from "./db/db.js";
import { databasePath, openDatabase } from "./db/open.js";
import { openSqliteFile, sqliteKysely } from "./db/sqlite.js";
import type { Logger } from "./log.js";
import { enqueueMail } from "./mail/outbox.js";
import { LocalFileStore } from "./files/store.js";
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
  const db = openDatabase(dataDir);
  const store = new LocalFileStore(dataDir);
  await store.ensure();
  if (options.sweep ?? true) {
    const known = db.prepare("SELECT 1 FROM files WHERE sha256 = ?");
    const swept = await store.sweep((sha) => known.get(sha) !== undefined);
    if (swept.temp || swept.orphans) options.log.warn("removed leftovers of interrupted uploads", swept);
  }
  const { policy, intermediates } = await loadTrust(dataDir, config);
  // During the move onto Kysely the writer shares the legacy connection, so both see one transaction at a time.
  const data = new Db({
    dialect: "sqlite",
    writer: sqliteKysely(db, { closeRaw: false }),
    reader: sqliteKysely(openSqliteFile(databasePath(dataDir))),
  });
  return {
    dataDir,
    db,
    data,
    clock: options.clock ?? systemClock,
    config,
    store,
    trust: policy,
    validator: trustValidator(policy, intermediates),
    intermediates,
    log: options.log,
    notify: (n: Notice) => {
      enqueueMail(db, n);
    },
  };
}

/** Closes what createContext opened: the database connections. */
export async function closeContext(ctx: ServerContext): Promise<void> {
  await ctx.data.close();
  ctx.db.close();
}

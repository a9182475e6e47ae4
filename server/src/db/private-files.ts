import { chmodSync, closeSync, existsSync, openSync, statSync } from "node:fs";
import type { Logger } from "../log.js";

/**
 * The database holds the registry, the cases and the audit trail: only the server's own user may read it. SQLite
 * creates its -wal and -shm files with the database file's mode, so a database created 0600 keeps them 0600 too.
 */

/** Creates `path` empty with mode 0600 (whatever the umask) unless something is there already. */
export function createPrivateFile(path: string): void {
  if (existsSync(path)) return;
  closeSync(openSync(path, "wx", 0o600));
  chmodSync(path, 0o600);
}

/**
 * At start: a SQLite database `dbPath` (and its -wal / -shm) that others may read is made 0600, with a warning; a
 * data folder that others may enter or read is only reported (ops may have reasons; `init` makes it 0700). With
 * PostgreSQL (`dbPath` undefined) only the folder is checked: the database's own access is the operator's (README).
 */
export function tightenDataPermissions(dataDir: string, dbPath: string | undefined, log: Logger): void {
  for (const p of dbPath ? [dbPath, `${dbPath}-wal`, `${dbPath}-shm`] : []) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) === 0) continue;
    chmodSync(p, 0o600);
    log.warn(`${p} was readable by other users (mode ${mode.toString(8)}): changed to 0600`, { path: p });
  }
  const dirMode = statSync(dataDir).mode & 0o777;
  if ((dirMode & 0o007) !== 0) {
    log.warn(
      `the data folder ${dataDir} is open to other users (mode ${dirMode.toString(8)}): run chmod 700 on it; it holds the database and the sealed files`,
      { path: dataDir },
    );
  }
}

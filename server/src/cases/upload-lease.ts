import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import type { Migration } from "../db/migration.js";
import { ServerError } from "../errors.js";

/**
 * One upload at a time per case. An upload takes the case's lease (a row in `upload_leases`) before it reads a byte
 * of its body and gives it back when it ends, however it ends; a second upload meanwhile is refused at once with
 * 409 UPLOAD_IN_PROGRESS instead of racing the first (both spooling up to maxUploadBytes, one failing only at the
 * end). The lease lives in the database, so it also holds between relay instances sharing one database. A holder
 * renews it while the body streams (every LEASE_RENEW_MS); a lease not renewed for LEASE_TTL_MS (its instance
 * crashed) is taken over by the next upload.
 *
 * upload-lease-001: `upload_leases (case_id PRIMARY KEY, holder, expires_at ISO-8601 UTC)`.
 */
export const migrations: Migration[] = [
  {
    id: "upload-lease-001",
    up(db) {
      db.exec(`
        CREATE TABLE upload_leases (
          case_id TEXT PRIMARY KEY,
          holder TEXT NOT NULL,
          expires_at TEXT NOT NULL
        );
      `);
    },
  },
];

/** A lease not renewed for this long is taken over (2 minutes). */
export const LEASE_TTL_MS = 120_000;
/** How often a running upload renews its lease (30 s). */
export const LEASE_RENEW_MS = 30_000;

/**
 * Removes every lease (at start, with the sweep of temporary uploads: the uploads they guarded died with the
 * previous process). Like that sweep it assumes one server process per data folder. Returns how many were removed.
 */
export function clearUploadLeases(db: Database.Database): number {
  return db.prepare("DELETE FROM upload_leases").run().changes;
}

/** A held lease: renewed in the background until released. */
export interface UploadLease {
  /** Gives the lease back (idempotent). */
  release(): void;
}

/**
 * Takes the upload lease of `caseId` (ServerError UPLOAD_IN_PROGRESS when another upload holds a live one) and
 * keeps it renewed until `release()`. `now` is the clock (default: the real one).
 */
export function acquireUploadLease(
  db: Database.Database,
  caseId: string,
  now: () => Date = () => new Date(),
): UploadLease {
  const holder = randomBytes(12).toString("hex");
  const expiry = () => new Date(now().getTime() + LEASE_TTL_MS).toISOString();
  const taken = db.transaction(() => {
    db.prepare("DELETE FROM upload_leases WHERE case_id = ? AND expires_at < ?").run(caseId, now().toISOString());
    return db
      .prepare("INSERT INTO upload_leases (case_id, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
      .run(caseId, holder, expiry()).changes;
  })();
  if (taken !== 1) {
    throw new ServerError("UPLOAD_IN_PROGRESS", `Another upload to case ${caseId} is in progress.`, {
      hint: "Wait until that upload has finished (or failed), then look at the case before sending again.",
      details: { caseId },
    });
  }
  const renew = db.prepare("UPDATE upload_leases SET expires_at = ? WHERE case_id = ? AND holder = ?");
  const timer = setInterval(() => {
    try {
      renew.run(expiry(), caseId, holder);
    } catch {
      // the database is closing: the lease expires by itself
    }
  }, LEASE_RENEW_MS);
  timer.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      db.prepare("DELETE FROM upload_leases WHERE case_id = ? AND holder = ?").run(caseId, holder);
    },
  };
}

import type { AuditEntryInput } from "../audit/log.js";
import type { Db } from "../db/db.js";
import type { UnitOfWork } from "../db/uow.js";
import type { FileStore } from "../files/store.js";
import type { Logger } from "../log.js";
import { useHasExpired } from "./candidates.js";
import { RetentionError } from "./errors.js";

/** Settings of one purge run. */
export interface PurgeOptions {
  /** Where the sealed files are (server-core's FileStore; its `remove` deletes one file and ignores a missing one). */
  store: Pick<FileStore, "remove">;
  /** Days after a case ends (result_received or cancelled) before its files are purged. 0: at the next run. */
  retentionDays: number;
  /** Current time. Default: now. */
  now?: Date;
  /** Writes an audit entry inside the purge's transaction. Default: `uow.audit.append(entry, now)`. */
  audit?: (entry: AuditEntryInput, uow: UnitOfWork) => void | Promise<void>;
  /** Default: silent. */
  log?: Logger;
}

/** What one purge run did. */
export interface PurgeResult {
  /** The cutoff: cases that ended at or before it had their files purged. ISO-8601 UTC. */
  cutoff: string;
  /** Files deleted from the store, with the cases (and roles) that used them. */
  purged: { sha256: string; size: number; cases: { caseId: string; role: "payload" | "result" }[] }[];
  /** Bytes freed (sum of purged sizes). */
  bytes: number;
  /** Files that could not be deleted (left in place, tried again next run) or were reused while being purged. */
  failed: { sha256: string; error: string }[];
}

const DAY_MS = 24 * 3600_000;

/** Returns `days` when it is a finite number >= 0; throws RetentionError BAD_CONFIG otherwise. */
export function checkRetentionDays(days: unknown): number {
  if (typeof days !== "number" || !Number.isFinite(days) || days < 0) {
    throw new RetentionError("BAD_CONFIG", `retentionDays must be a number of days >= 0 (got ${String(days)}).`, {
      hint: "Set retentionDays in config.json, e.g. 30.",
    });
  }
  return days;
}

/**
 * Deletes from the file store the sealed payloads and results of cases that ended (result_received or cancelled)
 * more than `retentionDays` days ago. Case rows, hashes, sizes, receipts and the audit trail stay: the file's row
 * in `files` gets `purged_at` (downloads then answer FILE_GONE), `purged_files` records which case and role lost
 * its file, and each affected case gets an audit entry "retention.purged" naming the file hash. A file shared by
 * content address with a case that has not ended, or ended more recently, is kept.
 *
 * Order per file: delete, then record (one transaction, re-checking that no case took the file up meanwhile). A
 * crash between the two leaves an unrecorded missing file that the next run records. If a case took the file up
 * between the check and the deletion (an identical upload at that very moment), the run logs an error, audits
 * "retention.purge_conflict" and reports it in `failed`; the file row is left as is.
 *
 * Throws RetentionError BAD_CONFIG when retentionDays is not a finite number >= 0.
 */
export async function purgeExpiredFiles(db: Db, options: PurgeOptions): Promise<PurgeResult> {
  const days = checkRetentionDays(options.retentionDays);
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - days * DAY_MS).toISOString();
  const audit =
    options.audit ??
    (async (entry: AuditEntryInput, uow: UnitOfWork) => {
      await uow.audit.append(entry, now);
    });
  const log = options.log;
  const result: PurgeResult = { cutoff, purged: [], bytes: 0, failed: [] };

  for (const file of await db.read((uow) => uow.retention.purgeCandidates(cutoff))) {
    try {
      await options.store.remove(file.sha256);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log?.error("retention: could not delete a sealed file; will try again next run", { sha256: file.sha256, error });
      result.failed.push({ sha256: file.sha256, error });
      continue;
    }
    const at = now.toISOString();
    const recorded = await db.tx(async (uow) => {
      const uses = await uow.retention.fileUses(file.sha256);
      const keeping = uses.filter((u) => !useHasExpired(u, cutoff));
      if (keeping.length > 0) {
        for (const u of keeping) {
          await audit(
            {
              actor: "system",
              role: null,
              agency: null,
              action: "retention.purge_conflict",
              caseId: u.caseId,
              fileSha256: [file.sha256],
              detail: {
                role: u.role,
                state: u.state,
                message: "the file was taken up by this case while being purged",
              },
            },
            uow,
          );
        }
        return { ok: false as const, caseIds: keeping.map((u) => u.caseId) };
      }
      await uow.retention.markPurged(file.sha256, at);
      for (const u of uses) {
        await uow.retention.recordPurged(file.sha256, u.caseId, u.role, at);
        await audit(
          {
            actor: "system",
            role: null,
            agency: null,
            action: "retention.purged",
            caseId: u.caseId,
            fileSha256: [file.sha256],
            detail: { role: u.role, size: file.size, endedAt: u.endedAt, retentionDays: days },
          },
          uow,
        );
      }
      return { ok: true as const, uses };
    });
    if (!recorded.ok) {
      const error = `case ${recorded.caseIds.join(", ")} took the file up while it was being purged`;
      log?.error("retention: a file was purged while a case was taking it up; that case must upload it again", {
        sha256: file.sha256,
        caseIds: recorded.caseIds,
      });
      result.failed.push({ sha256: file.sha256, error });
      continue;
    }
    result.purged.push({
      sha256: file.sha256,
      size: file.size,
      cases: recorded.uses.map((u) => ({ caseId: u.caseId, role: u.role })),
    });
    result.bytes += file.size;
  }
  if (result.purged.length > 0 || result.failed.length > 0) {
    log?.info("retention: purge run finished", {
      purged: result.purged.length,
      bytes: result.bytes,
      failed: result.failed.length,
      cutoff,
    });
  }
  return result;
}

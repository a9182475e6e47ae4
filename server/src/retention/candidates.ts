import type Database from "better-sqlite3";

/** The case states after which a case's files may be purged (DESIGN section 5: "after the case ends"). */
export const ENDED_STATES = ["result_received", "cancelled"] as const;

/** One use of a stored file by a case. */
export interface FileUse {
  caseId: string;
  role: "payload" | "result";
  state: string;
  endedAt: string | null;
}

// The cases that use a file (as payload or result), with what decides whether it may go.
const USES = `
  SELECT id AS caseId, 'payload' AS role, state, ended_at AS endedAt FROM cases WHERE payload_sha256 = @sha
  UNION ALL
  SELECT id AS caseId, 'result' AS role, state, ended_at AS endedAt FROM cases WHERE result_sha256 = @sha`;

// A use that keeps the file: the case has not ended, or ended after the cutoff (or without an end time).
const KEEPS = `NOT (c.state IN ('result_received', 'cancelled') AND c.ended_at IS NOT NULL AND c.ended_at <= @cutoff)`;

/**
 * Stored, not yet purged files that every case using them has left behind: each such case ended
 * (result_received or cancelled) at or before `cutoff` (ISO-8601 UTC). A file still used by any other case,
 * active or ended more recently, is not a candidate (files are shared by content address). Files no case uses
 * are left to the store's orphan sweep. Returns SHA-256 hex digests with their sizes, oldest first.
 *
 * The only query of the retention module that reads server-core's `cases` and `files` tables (core-001).
 */
export function listPurgeCandidates(db: Database.Database, cutoff: string): { sha256: string; size: number }[] {
  return db
    .prepare(
      `SELECT f.sha256 AS sha256, f.size AS size FROM files f
       WHERE f.purged_at IS NULL
         AND EXISTS (SELECT 1 FROM cases c WHERE c.payload_sha256 = f.sha256 OR c.result_sha256 = f.sha256)
         AND NOT EXISTS (SELECT 1 FROM cases c WHERE (c.payload_sha256 = f.sha256 OR c.result_sha256 = f.sha256)
                           AND ${KEEPS})
       ORDER BY f.created_at, f.sha256`,
    )
    .all({ cutoff }) as { sha256: string; size: number }[];
}

/** Every case use of `sha256`. */
export function fileUses(db: Database.Database, sha256: string): FileUse[] {
  return db.prepare(USES).all({ sha: sha256 }) as FileUse[];
}

/** True when `use` no longer needs the file at `cutoff`. */
export function useHasExpired(use: FileUse, cutoff: string): boolean {
  return (ENDED_STATES as readonly string[]).includes(use.state) && use.endedAt !== null && use.endedAt <= cutoff;
}

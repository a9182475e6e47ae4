import type Database from "better-sqlite3";

/**
 * True when the retention purge took this case's `role` file away (a `purged_files` row). That stays true when the
 * same bytes are stored again later for another case (the store is content-addressed, so `files.purged_at` is
 * cleared then): a purged file never becomes downloadable again through the case it was purged from.
 */
export function wasPurgedFor(
  db: Database.Database,
  sha256: string,
  caseId: string,
  role: "payload" | "result",
): boolean {
  return (
    db.prepare("SELECT 1 FROM purged_files WHERE sha256 = ? AND case_id = ? AND role = ?").get(sha256, caseId, role) !==
    undefined
  );
}

import type { CrlSummary } from "@sealpost/pki";
import type Database from "better-sqlite3";

/** The CRL module's queries (its own table, crl_state). */

export interface CrlStateRow {
  source: string;
  issuer: string;
  sha256: string | null;
  thisUpdate: string | null;
  nextUpdate: string | null;
  crlNumber: string | null;
  checkedAt: string;
  lastError: string | null;
  warnedNextUpdate: string | null;
}

/** Records what a source yielded now: one row per issuer (rows of issuers it no longer yields are removed). */
export function recordSource(db: Database.Database, source: string, crls: CrlSummary[], at: Date): void {
  db.transaction(() => {
    const issuers = crls.map((c) => c.issuer);
    for (const old of db.prepare("SELECT issuer FROM crl_state WHERE source = ?").all(source) as { issuer: string }[]) {
      if (!issuers.includes(old.issuer)) {
        db.prepare("DELETE FROM crl_state WHERE source = ? AND issuer = ?").run(source, old.issuer);
      }
    }
    const up = db.prepare(
      `INSERT INTO crl_state (source, issuer, sha256, this_update, next_update, crl_number, checked_at, last_error)
       VALUES (@source, @issuer, @sha256, @thisUpdate, @nextUpdate, @crlNumber, @at, NULL)
       ON CONFLICT (source, issuer) DO UPDATE SET sha256 = @sha256, this_update = @thisUpdate,
         next_update = @nextUpdate, crl_number = @crlNumber, checked_at = @at, last_error = NULL`,
    );
    for (const c of crls) {
      up.run({
        source,
        issuer: c.issuer,
        sha256: c.sha256,
        thisUpdate: c.thisUpdate.toISOString(),
        nextUpdate: c.nextUpdate?.toISOString() ?? null,
        crlNumber: c.crlNumber ?? null,
        at: at.toISOString(),
      });
    }
  })();
}

/** Records a failed refresh of a source; what it yielded before stays (it is still used until it goes stale). */
export function recordFailure(db: Database.Database, source: string, error: string, at: Date): void {
  db.transaction(() => {
    const n = db
      .prepare("UPDATE crl_state SET last_error = ?, checked_at = ? WHERE source = ?")
      .run(error, at.toISOString(), source).changes;
    if (n === 0) {
      db.prepare("INSERT INTO crl_state (source, issuer, checked_at, last_error) VALUES (?, '', ?, ?)").run(
        source,
        at.toISOString(),
        error,
      );
    }
  })();
}

/** Every row, by source and issuer. */
export function listCrlState(db: Database.Database): CrlStateRow[] {
  return db
    .prepare(
      `SELECT source, issuer, sha256, this_update AS thisUpdate, next_update AS nextUpdate, crl_number AS crlNumber,
              checked_at AS checkedAt, last_error AS lastError, warned_next_update AS warnedNextUpdate
       FROM crl_state ORDER BY source, issuer`,
    )
    .all() as CrlStateRow[];
}

/** The warning ops last got about an issuer ("<state>:<nextUpdate>"), or undefined. */
export function lastWarning(db: Database.Database, issuer: string): string | undefined {
  const r = db
    .prepare(
      "SELECT warned_next_update AS w FROM crl_state WHERE issuer = ? AND warned_next_update IS NOT NULL LIMIT 1",
    )
    .get(issuer) as { w: string } | undefined;
  return r?.w;
}

/** Notes the warning ops got about an issuer (on every row of it). */
export function markWarned(db: Database.Database, issuer: string, key: string): void {
  db.prepare("UPDATE crl_state SET warned_next_update = ? WHERE issuer = ?").run(key, issuer);
}

/** The pseudo-source of the rows that name a CA of which no source yielded a CRL. */
export const NO_SOURCE = "(no source)";

/** Records which CAs no source yielded a CRL of (rows of source NO_SOURCE, without a CRL), replacing the last list. */
export function recordMissing(db: Database.Database, issuers: string[], at: Date): void {
  db.transaction(() => {
    db.prepare("DELETE FROM crl_state WHERE source = ?").run(NO_SOURCE);
    const ins = db.prepare(
      "INSERT INTO crl_state (source, issuer, checked_at, last_error) VALUES (?, ?, ?, 'no source yielded a CRL of this CA')",
    );
    for (const i of issuers) ins.run(NO_SOURCE, i, at.toISOString());
  })();
}

/** Removes the rows of sources no longer configured or named by any certificate. */
export function forgetSources(db: Database.Database, keep: Set<string>): void {
  for (const r of db.prepare("SELECT DISTINCT source FROM crl_state").all() as { source: string }[]) {
    if (!keep.has(r.source) && r.source !== NO_SOURCE)
      db.prepare("DELETE FROM crl_state WHERE source = ?").run(r.source);
  }
}

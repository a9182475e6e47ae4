import type { Db } from "../db/db.js";
import { CRL_REFRESH_DEFAULTS } from "./refresh.js";

/** One CRL source as `sealpost-server status` shows it. */
export interface CrlSourceStatus {
  /** `file:PATH` or `url:URL`. */
  source: string;
  issuer: string | null;
  thisUpdate: string | null;
  nextUpdate: string | null;
  /**
   * current; stale-soon (nextUpdate within the warning time: ops were warned); stale (past nextUpdate: that CA's
   * certificates are refused under revocation "require"); unavailable (never read: see lastError).
   */
  state: "current" | "stale-soon" | "stale" | "unavailable";
  checkedAt: string;
  lastError: string | null;
}

/** The CRLs the relay validates with and how current each is (`warnBeforeMs` default 24 hours). */
export async function crlStatus(
  db: Db,
  options: { now?: Date; warnBeforeMs?: number } = {},
): Promise<CrlSourceStatus[]> {
  const now = (options.now ?? new Date()).toISOString();
  const horizon = new Date(Date.parse(now) + (options.warnBeforeMs ?? CRL_REFRESH_DEFAULTS.warnBeforeMs)).toISOString();
  const rows = await db.read((uow) => uow.crls.all());
  return rows.map((r) => ({
    source: r.source,
    issuer: r.issuer,
    thisUpdate: r.this_update,
    nextUpdate: r.next_update,
    state: !r.sha256
      ? "unavailable"
      : !r.next_update || r.next_update < now
        ? "stale"
        : r.next_update <= horizon
          ? "stale-soon"
          : "current",
    checkedAt: r.checked_at,
    lastError: r.last_error,
  }));
}

import type Database from "better-sqlite3";
import { type CrlStateRow, listCrlState, NO_SOURCE } from "./store.js";

/** Default warning window: ops hear about a CRL this long before it goes stale (24 hours). */
export const DEFAULT_WARN_BEFORE_MS = 24 * 3600_000;

/** How current an issuer's CRL is at a given time. */
export type CrlFreshness = "ok" | "stale-soon" | "stale" | "unavailable";

/** The best CRL the relay holds for one issuer (latest nextUpdate over every source), judged at a time. */
export interface CrlIssuerStatus {
  issuer: string;
  state: CrlFreshness;
  thisUpdate: string | null;
  nextUpdate: string | null;
  crlNumber: string | null;
  /** The sources holding that CRL. */
  sources: string[];
  /** The last error of each source of this issuer whose last refresh failed. */
  errors: string[];
}

/** What `sealpost-server status` shows about CRLs. */
export interface CrlStatus {
  warnBeforeHours: number;
  issuers: CrlIssuerStatus[];
  /** Every source as the refresh job left it (a source that never yielded a CRL has issuer ""). */
  sources: CrlStateRow[];
  /** One sentence per CA whose CRL is not ok: stale, about to be, or missing (empty when all is well). */
  warnings: string[];
  /** Sources whose last refresh failed (their issuer may still be served by another source). */
  sourceErrors: string[];
}

/**
 * The state of a CRL at `now`: "stale" once its nextUpdate passed (or it has none: such a CRL is never current),
 * "stale-soon" within `warnBeforeMs` of it, else "ok".
 */
export function freshnessOf(nextUpdate: string | null, now: Date, warnBeforeMs: number): CrlFreshness {
  if (!nextUpdate) return "stale";
  const left = Date.parse(nextUpdate) - now.getTime();
  if (left <= 0) return "stale";
  return left <= warnBeforeMs ? "stale-soon" : "ok";
}

/** Per issuer, the row with the latest nextUpdate, and the issuers' states at `now`. */
export function issuerStatus(rows: CrlStateRow[], now: Date, warnBeforeMs: number): CrlIssuerStatus[] {
  const by = new Map<string, CrlStateRow[]>();
  for (const r of rows) if (r.issuer) by.set(r.issuer, [...(by.get(r.issuer) ?? []), r]);
  const out: CrlIssuerStatus[] = [];
  for (const [issuer, list] of by) {
    const held = list.filter((r) => r.sha256);
    const best = [...(held.length ? held : list)].sort((a, b) =>
      (b.nextUpdate ?? "").localeCompare(a.nextUpdate ?? ""),
    )[0]!;
    out.push({
      issuer,
      state: held.length ? freshnessOf(best.nextUpdate, now, warnBeforeMs) : "unavailable",
      thisUpdate: best.thisUpdate,
      nextUpdate: best.nextUpdate,
      crlNumber: best.crlNumber,
      sources: held.filter((r) => r.nextUpdate === best.nextUpdate).map((r) => r.source),
      errors: list
        .filter((r) => r.lastError && r.source !== NO_SOURCE)
        .map((r) => `${r.source} (${r.checkedAt}): ${r.lastError}`),
    });
  }
  return out.sort((a, b) => a.issuer.localeCompare(b.issuer));
}

/** A sentence for ops about an issuer whose CRL is not ok. */
export function describeIssuer(s: CrlIssuerStatus): string {
  const errs = s.errors.length ? ` Last refresh failures: ${s.errors.join("; ")}.` : "";
  if (s.state === "unavailable") {
    return `No CRL of ${s.issuer} is at hand: certificates it issued are refused while revocation is required.${errs}`;
  }
  if (s.state === "stale") {
    return `The CRL of ${s.issuer} is stale since ${s.nextUpdate ?? "always (it has no nextUpdate)"}: certificates it covers are refused until a current one is found.${errs}`;
  }
  return `The CRL of ${s.issuer} goes stale at ${s.nextUpdate}: a newer one is needed before then (from ${s.sources.join(", ")}).${errs}`;
}

/** The CRL state recorded by the refresh job, judged at `now` (default: the current time). */
export function crlStatus(db: Database.Database, options: { now?: Date; warnBeforeMs?: number } = {}): CrlStatus {
  const now = options.now ?? new Date();
  const warnBeforeMs = options.warnBeforeMs ?? DEFAULT_WARN_BEFORE_MS;
  const sources = listCrlState(db);
  const issuers = issuerStatus(sources, now, warnBeforeMs);
  const warnings = issuers.filter((s) => s.state !== "ok").map(describeIssuer);
  const sourceErrors = sources
    .filter((r) => r.lastError && r.source !== NO_SOURCE)
    .map((r) => `${r.source} (${r.checkedAt}): ${r.lastError}`);
  return { warnBeforeHours: warnBeforeMs / 3600_000, issuers, sources, warnings, sourceErrors };
}

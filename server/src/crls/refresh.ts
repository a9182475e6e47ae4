import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  CRL_FETCH_LIMITS,
  type CertInfo,
  type CrlSummary,
  crlUrlsOf,
  downloadCrl,
  readSignedCrls,
} from "@sealpost/pki";
import { dataPath, type TrustConfig } from "../config.js";
import type { Db } from "../db/db.js";
import type { Logger } from "../log.js";
import type { CrlRow } from "./repository.js";
import { renderCrlStaleMail } from "./notice.js";

/** Defaults of the CRL refresh (config `trust.crlRefresh`). */
export const CRL_REFRESH_DEFAULTS = {
  /** How often the job runs: 1 hour. */
  intervalMs: 3600_000,
  /** Ops are warned this long before a CRL's nextUpdate: 24 hours. */
  warnBeforeMs: 24 * 3600_000,
} as const;

/** What one refresh needs. */
export interface CrlRefreshOptions {
  dataDir: string;
  trust: TrustConfig;
  /** The CA certificates whose CRLs count (anchors and intermediates): a CRL none of them signed is refused. */
  issuers: CertInfo[];
  /** Fetch the distribution points (of the intermediates, the registered certificates and trust.crlUrls). */
  fetch: boolean;
  now: () => Date;
  log: Logger;
}

/** The outcome of one refresh. */
export interface CrlRefreshReport {
  /** Sources whose CRL changed. */
  changed: string[];
  /** Problems, one line each (a source that could not be read, a CRL no known CA signed). */
  errors: string[];
  /** Sources ops were warned about in this run (stale soon, or already). */
  warned: string[];
}

/** `url` through `trust.crlMirror` (its origin replaced, path kept), or as is. */
export function mirrored(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, "")}${u.pathname}${u.search}`;
}

async function readLocal(path: string): Promise<Uint8Array> {
  const st = await stat(path);
  if (!st.isFile()) throw new Error("not a regular file");
  if (st.size > CRL_FETCH_LIMITS.maxBytes) throw new Error(`larger than ${CRL_FETCH_LIMITS.maxBytes} bytes`);
  return new Uint8Array(await readFile(path));
}

/** The configured local sources: `file:PATH` (as configured) to its absolute path. */
async function localSources(dataDir: string, t: TrustConfig): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of t.crls ?? []) out.set(`file:${f}`, dataPath(dataDir, f));
  if (t.crlDir) {
    const dir = dataPath(dataDir, t.crlDir);
    for (const name of (await readdir(dir)).sort()) {
      if (name.startsWith(".")) continue;
      out.set(`file:${join(t.crlDir, name)}`, join(dir, name));
    }
  }
  return out;
}

/** The distribution points to fetch: of the CA certificates, of the active registered certificates, configured. */
async function urlSources(db: Db, o: CrlRefreshOptions): Promise<Map<string, string>> {
  const urls = new Set<string>(o.trust.crlUrls ?? []);
  for (const ca of o.issuers) for (const u of crlUrlsOf(ca)) urls.add(u);
  const certs = await db.read((uow) => uow.registry.certificates());
  for (const c of certs) {
    if (c.status !== "active") continue;
    try {
      for (const u of crlUrlsOf(new Uint8Array(c.der))) urls.add(u);
    } catch {
      // a registered certificate always parsed once; nothing to fetch for one that does not now
    }
  }
  const out = new Map<string, string>();
  for (const u of [...urls].sort()) out.set(`url:${u}`, mirrored(u, o.trust.crlMirror));
  return out;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/** Stores what one source gave: its CRLs (`source`, `source#2` ...), or the error, keeping the last good CRL. */
async function record(
  db: Db,
  source: string,
  got: { crls: CrlSummary[]; rejected: string[] } | { error: string },
  known: Map<string, CrlRow>,
  at: string,
  report: CrlRefreshReport,
): Promise<string[]> {
  if ("error" in got) {
    report.errors.push(`${source}: ${got.error}`);
    await db.tx((uow) => uow.crls.checked(source, at, got.error));
    return [source];
  }
  report.errors.push(...got.rejected);
  const names: string[] = [];
  for (const [i, crl] of got.crls.entries()) {
    const name = i === 0 ? source : `${source}#${i + 1}`;
    names.push(name);
    const old = known.get(name);
    // Never step back: an older CRL than the one held (a stale mirror, a replayed file) is not taken.
    const newer = !old?.this_update || crl.thisUpdate.toISOString() >= old.this_update;
    if (old?.sha256 !== crl.sha256 && newer) {
      await db.tx((uow) =>
        uow.crls.put(
          name,
          {
            issuer: crl.issuer,
            sha256: crl.sha256,
            der: crl.der,
            thisUpdate: crl.thisUpdate.toISOString(),
            nextUpdate: iso(crl.nextUpdate),
            crlNumber: crl.crlNumber ?? null,
          },
          at,
        ),
      );
      report.changed.push(name);
    } else {
      const error = newer ? null : `offered a CRL older than the one held (thisUpdate ${crl.thisUpdate.toISOString()})`;
      if (error) report.errors.push(`${name}: ${error}`);
      await db.tx((uow) => uow.crls.checked(name, at, error));
    }
  }
  if (got.crls.length === 0) {
    const error = got.rejected[0] ?? "no CRL in it";
    await db.tx((uow) => uow.crls.checked(source, at, error));
    names.push(source);
  }
  return names;
}

/** Warns ops (log, and one e-mail per CRL and nextUpdate) about CRLs that stop being current within warnBeforeMs. */
async function warnStale(db: Db, o: CrlRefreshOptions, now: Date, report: CrlRefreshReport): Promise<void> {
  const warnBeforeMs = o.trust.crlRefresh?.warnBeforeMs ?? CRL_REFRESH_DEFAULTS.warnBeforeMs;
  const horizon = new Date(now.getTime() + warnBeforeMs).toISOString();
  const rows = await db.read((uow) => uow.crls.all());
  for (const row of rows) {
    if (!row.sha256 || !row.next_update || row.next_update > horizon) continue;
    o.log.warn("crl: stale soon or stale, and no newer CRL found", {
      source: row.source,
      issuer: row.issuer,
      nextUpdate: row.next_update,
    });
    if (row.warned_for === row.next_update) continue;
    const mail = renderCrlStaleMail({
      issuer: row.issuer ?? "?",
      source: row.source,
      nextUpdate: row.next_update,
      lastError: row.last_error,
    });
    const nextUpdate = row.next_update;
    await db.tx(async (uow) => {
      const ops = await uow.registry.activeStaffWithRole("ops");
      const to = [...new Set(ops.map((s) => s.email))];
      if (to.length > 0) await uow.mail.enqueue({ ...mail, to, kind: "crl.stale" }, now);
      await uow.crls.markWarned(row.source, nextUpdate);
    });
    report.warned.push(row.source);
  }
}

/**
 * One refresh: reads the configured CRL files and folder, fetches the distribution points (when `fetch`; within
 * CRL_FETCH_LIMITS, the CLI's limits: 10 s and 20 MiB per CRL; `trust.crlMirror` replaces their origin), keeps
 * the CRLs a known CA signed in the `crls` table (a changed CRL replaces the source's row unless it is older than
 * it; a failed source keeps its last good CRL), drops rows of files no longer configured, and warns ops about
 * CRLs that stop being current within `trust.crlRefresh.warnBeforeMs`. Safe to repeat: every step compares with
 * what is stored. Never throws for a source; errors are in the report and in each row's `last_error`.
 */
export async function refreshCrls(db: Db, o: CrlRefreshOptions): Promise<CrlRefreshReport> {
  const now = o.now();
  const at = now.toISOString();
  const report: CrlRefreshReport = { changed: [], errors: [], warned: [] };
  const known = new Map((await db.read((uow) => uow.crls.all())).map((r) => [r.source, r]));
  const seen = new Set<string>();
  let local = new Map<string, string>();
  try {
    local = await localSources(o.dataDir, o.trust);
  } catch (e) {
    report.errors.push(`the CRL folder cannot be read: ${(e as Error).message}`);
    for (const k of known.keys()) if (k.startsWith("file:")) seen.add(k); // keep what we had
  }
  for (const [source, path] of local) {
    let got: Parameters<typeof record>[2];
    try {
      got = readSignedCrls(await readLocal(path), source, o.issuers);
    } catch (e) {
      got = { error: (e as Error).message };
    }
    for (const n of await record(db, source, got, known, at, report)) seen.add(n);
  }
  if (o.fetch) {
    for (const [source, url] of await urlSources(db, o)) {
      let got: Parameters<typeof record>[2];
      try {
        got = readSignedCrls(await downloadCrl(url, CRL_FETCH_LIMITS), source, o.issuers);
      } catch (e) {
        got = { error: (e as Error).message };
      }
      for (const n of await record(db, source, got, known, at, report)) seen.add(n);
    }
  } else {
    for (const k of known.keys()) if (k.startsWith("url:")) seen.add(k);
  }
  const gone = [...known.keys()].filter((k) => !seen.has(k) && k.startsWith("file:"));
  if (gone.length > 0) {
    await db.tx((uow) => uow.crls.remove(gone));
    report.changed.push(...gone);
  }
  await warnStale(db, o, now, report);
  if (report.changed.length > 0) o.log.info("crl: refreshed", { changed: report.changed });
  for (const e of report.errors) o.log.warn("crl: refresh problem", { error: e });
  return report;
}

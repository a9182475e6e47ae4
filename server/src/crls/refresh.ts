import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CRL_FETCH_LIMITS,
  type CertInfo,
  type CrlSummary,
  crlIssuerNameOf,
  crlUrlsOf,
  downloadCrl,
  readSignedCrls,
} from "@sealpost/pki";
import type Database from "better-sqlite3";
import type { Logger } from "../log.js";
import { enqueueMail } from "../mail/outbox.js";
import { DEFAULT_WARN_BEFORE_MS, describeIssuer, issuerStatus } from "./status.js";
import {
  forgetSources,
  lastWarning,
  listCrlState,
  markWarned,
  recordFailure,
  recordMissing,
  recordSource,
} from "./store.js";

/** Where the refresh job reads CRLs, besides the distribution points. */
export interface CrlSources {
  /** CRL files (DER or PEM), read again at every run. */
  files: string[];
  /** A folder of CRL files, listed and read again at every run. */
  dir?: string | undefined;
}

export interface CrlRefresherOptions {
  db: Database.Database;
  log: Logger;
  sources: CrlSources;
  /** The CA certificates whose CRLs count (anchors and intermediates): a CRL none of them signed is ignored. */
  cas: CertInfo[];
  /**
   * The registered certificates (their distribution points are fetched too), by SHA-256 with their DER made on
   * demand (each certificate is parsed once); read at every run.
   */
  registered: () => { sha256: string; der: () => Uint8Array }[];
  /** E-mail addresses of ops (the warnings); read when a warning is due. */
  opsEmails: () => string[];
  /** Folder of the downloaded CRLs (kept across restarts). */
  cacheDir: string;
  /** Fetch CRLs from the distribution points. Default true. */
  fetch?: boolean;
  /** Ops are warned this long before a CRL goes stale. Default 24 hours. */
  warnBeforeMs?: number;
  /** Download limits. Default CRL_FETCH_LIMITS, the limits the CLI's trust policy uses. */
  limits?: { timeoutMs: number; maxBytes: number };
  /** Maps a distribution point URL before use (a local mirror, or a test server). Default: unchanged. */
  rewriteUrl?: (url: string) => string;
  /** The clock. Default: the current time. */
  now?: () => Date;
}

/** What one refresh did. */
export interface CrlRunResult {
  /** CRLs in use after the run. */
  crls: number;
  /** Sources that failed this run, with why. */
  failed: { source: string; error: string }[];
  /** Warning mails queued this run. */
  warned: number;
}

/**
 * Keeps the relay's CRLs current: at every run it reads the configured CRL files and folder again and fetches the
 * http:// distribution points of the CA certificates and of every registered certificate (same limits as the CLI),
 * keeps only CRLs signed by a CA it knows, records each source's state in `crl_state` (shown by `sealpost-server
 * status`), and, when the best CRL of an issuer is within `warnBeforeMs` of its nextUpdate or past it, queues one
 * e-mail to ops through the mail outbox (once per CRL version and state). A source that fails keeps what it gave
 * before: a downloaded CRL is also kept on disk (`cacheDir`), so a restart does not lose it. `current()` is the set
 * the trust policy uses; `onChange` hears when it changed.
 *
 * Call order: `loadLocal()` once at start (files, folder and the download cache, no network), then `runOnce()` on a
 * schedule (see startCrlRefreshWorker). Runs must not overlap (the worker guarantees it).
 */
export class CrlRefresher {
  readonly limits: { timeoutMs: number; maxBytes: number };
  readonly warnBeforeMs: number;
  /** Called with the new CRL set whenever it changed. */
  onChange: ((crls: Uint8Array[]) => void) | undefined;
  private readonly bySource = new Map<string, CrlSummary[]>();
  private readonly urlsOfCert = new Map<string, string[]>();
  private fingerprint = "";

  constructor(private readonly o: CrlRefresherOptions) {
    this.limits = o.limits ?? CRL_FETCH_LIMITS;
    this.warnBeforeMs = o.warnBeforeMs ?? DEFAULT_WARN_BEFORE_MS;
  }

  private now(): Date {
    return this.o.now ? this.o.now() : new Date();
  }

  /** The DER of every CRL in use (each source's latest good read). */
  current(): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    for (const list of this.bySource.values()) {
      for (const c of list) {
        if (seen.has(c.sha256)) continue;
        seen.add(c.sha256);
        out.push(c.der);
      }
    }
    return out;
  }

  /** Reads the configured files, the folder and the download cache (no network). */
  async loadLocal(): Promise<void> {
    const at = this.now();
    for (const [source, read] of await this.localSources()) await this.take(source, read, at, false);
    for (const url of this.urls()) {
      try {
        const bytes = await readFile(this.cachePath(url));
        this.keep(url, readSignedCrls(new Uint8Array(bytes), url, this.o.cas).crls);
      } catch {
        // not downloaded yet
      }
    }
    this.changed();
  }

  /** One refresh: files, folder, distribution points; state recorded; warnings mailed. Never throws for a source. */
  async runOnce(): Promise<CrlRunResult> {
    const at = this.now();
    const failed: CrlRunResult["failed"] = [];
    const local = await this.localSources();
    for (const [source, read] of local) {
      const error = await this.take(source, read, at, true);
      if (error) failed.push({ source, error });
    }
    const urls = this.o.fetch === false ? [] : this.urls();
    for (const url of urls) {
      const error = await this.take(url, () => this.download(url), at, true);
      if (error) failed.push({ source: url, error });
    }
    forgetSources(this.o.db, new Set([...local.keys(), ...urls]));
    for (const s of [...this.bySource.keys()]) if (!local.has(s) && !urls.includes(s)) this.bySource.delete(s);
    const have = new Set([...this.bySource.values()].flat().map((c) => c.issuer));
    recordMissing(
      this.o.db,
      this.caNames().filter((n) => !have.has(n)),
      at,
    );
    this.changed();
    const warned = this.warn(at);
    return { crls: this.current().length, failed, warned };
  }

  private async localSources(): Promise<Map<string, () => Promise<Uint8Array>>> {
    const out = new Map<string, () => Promise<Uint8Array>>();
    const fileReader = (p: string) => async () => new Uint8Array(await readFile(p));
    for (const f of this.o.sources.files) out.set(f, fileReader(f));
    if (this.o.sources.dir) {
      let names: string[] = [];
      try {
        names = (await readdir(this.o.sources.dir)).sort();
      } catch (e) {
        const dir = this.o.sources.dir;
        out.set(dir, async () => {
          throw new Error(`the CRL folder cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
        });
      }
      for (const n of names) {
        const p = join(this.o.sources.dir, n);
        if ((await stat(p).catch(() => undefined))?.isFile()) out.set(p, fileReader(p));
      }
    }
    return out;
  }

  /** The CRL issuer names of the CA certificates (each should have a current CRL from some source). */
  private caNames(): string[] {
    return [
      ...new Set(
        this.o.cas.flatMap((c) => {
          try {
            return [crlIssuerNameOf(c)];
          } catch {
            return [];
          }
        }),
      ),
    ];
  }

  /** The distribution point URLs of the CA certificates and of the registered certificates (rewritten). */
  private urls(): string[] {
    const rewrite = this.o.rewriteUrl ?? ((u: string) => u);
    const urls = new Set<string>();
    const certs = [...this.o.cas.map((c) => ({ sha256: c.sha256, der: () => c.der })), ...this.o.registered()];
    for (const c of certs) {
      let list = this.urlsOfCert.get(c.sha256);
      if (!list) {
        try {
          list = crlUrlsOf(c.der());
        } catch {
          list = [];
        }
        this.urlsOfCert.set(c.sha256, list);
      }
      for (const u of list) urls.add(rewrite(u));
    }
    return [...urls].sort();
  }

  private cachePath(url: string): string {
    return join(this.o.cacheDir, `${createHash("sha256").update(url).digest("hex").slice(0, 32)}.crl`);
  }

  private async download(url: string): Promise<Uint8Array> {
    const body = await downloadCrl(url, this.limits);
    const parsed = readSignedCrls(body, url, this.o.cas);
    if (parsed.crls.length > 0) {
      await mkdir(this.o.cacheDir, { recursive: true, mode: 0o700 });
      const path = this.cachePath(url);
      await writeFile(`${path}.${process.pid}.tmp`, body, { mode: 0o600 });
      await rename(`${path}.${process.pid}.tmp`, path);
    }
    return body;
  }

  /** Reads one source; on success keeps and records its CRLs; returns the error otherwise. */
  private async take(
    source: string,
    read: () => Promise<Uint8Array>,
    at: Date,
    record: boolean,
  ): Promise<string | undefined> {
    let error: string | undefined;
    try {
      const { crls, rejected } = readSignedCrls(await read(), source, this.o.cas);
      if (crls.length === 0) error = rejected[0] ?? "it holds no CRL";
      else {
        this.keep(source, crls);
        if (record) recordSource(this.o.db, source, this.bySource.get(source)!, at);
        for (const r of rejected) this.o.log.warn(`crl: ${r}`, { source });
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (error) {
      if (record) recordFailure(this.o.db, source, error, at);
      this.o.log.warn("crl: a CRL source could not be refreshed; what it gave before stays in use", { source, error });
    }
    return error;
  }

  /** Keeps a source's CRLs unless it already holds a newer one of the same issuer (never go back in time). */
  private keep(source: string, crls: CrlSummary[]): void {
    const before = this.bySource.get(source) ?? [];
    const merged = crls.map((c) => {
      const old = before.find((b) => b.issuer === c.issuer);
      return old && old.thisUpdate > c.thisUpdate ? old : c;
    });
    this.bySource.set(source, merged);
  }

  private changed(): void {
    const crls = this.current();
    const fp = crls
      .map((d) => createHash("sha256").update(d).digest("hex"))
      .sort()
      .join();
    if (fp === this.fingerprint) return;
    this.fingerprint = fp;
    this.onChange?.(crls);
  }

  /** Logs every issuer whose CRL is not ok and mails ops once per CRL version and state. Returns mails queued. */
  private warn(at: Date): number {
    let queued = 0;
    for (const s of issuerStatus(listCrlState(this.o.db), at, this.warnBeforeMs)) {
      if (s.state === "ok") continue;
      const text = describeIssuer(s);
      this.o.log.warn(`crl: ${text}`, { issuer: s.issuer, state: s.state, nextUpdate: s.nextUpdate });
      const key = `${s.state}:${s.nextUpdate ?? "none"}`;
      if (lastWarning(this.o.db, s.issuer) === key) continue;
      const to = this.o.opsEmails();
      if (to.length === 0) {
        this.o.log.warn("crl: no active ops staff to mail the warning to", { issuer: s.issuer });
        continue;
      }
      this.o.db.transaction(() => {
        enqueueMail(
          this.o.db,
          {
            to,
            kind: s.state === "stale" ? "crl.stale" : s.state === "unavailable" ? "crl.unavailable" : "crl.stale_soon",
            subject:
              s.state === "stale"
                ? `[sealpost] CRL stale: ${oneLine(s.issuer)}`
                : s.state === "unavailable"
                  ? `[sealpost] no CRL at hand: ${oneLine(s.issuer)}`
                  : `[sealpost] CRL goes stale at ${s.nextUpdate}: ${oneLine(s.issuer)}`,
            text: `${text}\n\nThe relay refreshes its CRLs from its configured CRL files and folder and from the distribution points of the certificates it knows. Place a current CRL in the CRL folder, or make the distribution point reachable; \`sealpost-server status\` shows every source.\n`,
          },
          at,
        );
        markWarned(this.o.db, s.issuer, key);
      })();
      queued++;
    }
    return queued;
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}

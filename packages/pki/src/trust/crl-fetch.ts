import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ParsedCrl, parseCrls } from "./crl.js";
import { httpExchange } from "./http.js";
import type { ParsedCert } from "./x509.js";

export interface CrlFetcherOptions {
  /** Directory for downloaded CRLs (created when missing). Without it, the cache lives in memory only. */
  cacheDir?: string | undefined;
  /** Per-request time limit, ms. Default 10000. */
  timeoutMs?: number;
  /** Largest CRL accepted, bytes. Default 20 MiB. */
  maxBytes?: number | undefined;
  /** Maps a distribution point URL before use (mirror, proxy, tests). */
  rewriteUrl?: ((url: string) => string) | undefined;
}

/**
 * Downloads CRLs from a certificate's http:// distribution points and caches them (memory, and disk when
 * `cacheDir` is set). A cached CRL is used without a request until its nextUpdate passes; a CRL without
 * nextUpdate is re-fetched at every call. Files are written atomically (temp file + rename).
 */
export class CrlFetcher {
  private readonly memory = new Map<string, ParsedCrl[]>();
  private readonly inFlight = new Map<string, Promise<ParsedCrl[]>>();
  /** Number of HTTP requests made (for diagnostics and tests). */
  requests = 0;

  constructor(private readonly options: CrlFetcherOptions) {}

  static urlsOf(cert: ParsedCert): string[] {
    const out: string[] = [];
    for (const dp of cert.crlDistributionPoints ?? []) {
      for (const g of dp.fullName ?? []) if (g.kind === "uri" && /^http:\/\//i.test(g.value)) out.push(g.value);
    }
    return [...new Set(out)];
  }

  private fresh(crls: ParsedCrl[], now: Date): boolean {
    return crls.length > 0 && crls.every((c) => c.nextUpdate !== undefined && c.nextUpdate >= now);
  }

  private cachePath(url: string): string | undefined {
    if (!this.options.cacheDir) return undefined;
    return join(this.options.cacheDir, `${createHash("sha256").update(url).digest("hex").slice(0, 32)}.crl`);
  }

  async fetchFor(cert: ParsedCert, now: Date): Promise<{ crls: ParsedCrl[]; errors: string[] }> {
    const crls: ParsedCrl[] = [];
    const errors: string[] = [];
    const rewrite = this.options.rewriteUrl ?? ((u: string) => u);
    for (const url of CrlFetcher.urlsOf(cert).map(rewrite)) {
      try {
        let pending = this.inFlight.get(url);
        if (!pending) {
          pending = this.get(url, now).finally(() => this.inFlight.delete(url));
          this.inFlight.set(url, pending);
        }
        crls.push(...(await pending));
      } catch (err) {
        errors.push(`the CRL at ${url} could not be fetched: ${(err as Error).message}`);
      }
    }
    return { crls, errors };
  }

  private async get(url: string, now: Date): Promise<ParsedCrl[]> {
    const mem = this.memory.get(url);
    if (mem && this.fresh(mem, now)) return mem;
    const path = this.cachePath(url);
    if (path && !mem) {
      try {
        const disk = parseCrls(new Uint8Array(await readFile(path)), url);
        this.memory.set(url, disk);
        if (this.fresh(disk, now)) return disk;
      } catch {
        // no usable cache entry
      }
    }
    this.requests++;
    const body = await httpExchange(url, {
      timeoutMs: this.options.timeoutMs ?? 10_000,
      maxBytes: this.options.maxBytes ?? 20 * 1024 * 1024,
    });
    const crls = parseCrls(body, url);
    this.memory.set(url, crls);
    if (path && this.options.cacheDir) {
      await mkdir(this.options.cacheDir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, body, { mode: 0o644 });
      await rename(tmp, path);
    }
    return crls;
  }
}

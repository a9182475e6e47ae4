import type { CertInfo, TrustPolicy, TrustResult, ValidateOptions } from "@sealpost/pki";
import { createTrustPolicy } from "../crypto.js";
import type { Db } from "../db/db.js";
import type { Logger } from "../log.js";

/** Options of LiveTrust. */
export interface LiveTrustOptions {
  anchors: CertInfo[];
  intermediates: CertInfo[];
  revocation: "require" | "prefer" | "off";
  /** How often a validation checks whether the `crls` table changed. Default 5000 ms. */
  syncMs?: number;
  /** How long a successful validation is reused (never past a path certificate's notAfter). Default 60 000 ms. */
  cacheMs?: number;
  now: () => Date;
  log: Logger;
}

const MAX_CACHED = 2000;

/**
 * The relay's trust policy over the CRLs of the `crls` table, which the refresh job (on one instance) keeps
 * current. Every instance checks the table's version at most every `syncMs` when it validates, and `reload()`
 * does so at once (the refresh job calls it after a change). When the CRLs change the policy is rebuilt and every
 * cached validation result is dropped, so a certificate revoked by the new CRL is refused from the next
 * validation on. Successful validations are cached for `cacheMs` per certificate, purpose and chain (failures
 * never are).
 */
export class LiveTrust implements TrustPolicy {
  /** The trust anchors (their CRLs count, as do the intermediates'). */
  readonly anchors: CertInfo[];
  private policy: TrustPolicy;
  private version: string | undefined;
  private checkedAt = 0;
  private syncing: Promise<void> | undefined;
  private readonly cache = new Map<string, { result: TrustResult; until: number }>();
  /** Changes of the CRL set seen by this instance (for status and tests). */
  generation = 0;

  constructor(
    private readonly db: Db,
    private readonly o: LiveTrustOptions,
  ) {
    this.anchors = o.anchors;
    this.policy = this.build([]);
  }

  private build(crls: Uint8Array[]): TrustPolicy {
    return createTrustPolicy({
      anchors: this.o.anchors,
      intermediates: this.o.intermediates,
      crls,
      revocation: this.o.revocation,
      now: this.o.now,
    });
  }

  /** Reads the `crls` table now; rebuilds the policy and empties the cache when it changed. */
  async reload(): Promise<void> {
    const version = await this.db.read((uow) => uow.crls.version());
    this.checkedAt = Date.now();
    if (version === this.version) return;
    const rows = await this.db.read((uow) => uow.crls.all());
    const crls = rows.flatMap((r) => (r.der ? [new Uint8Array(r.der)] : []));
    try {
      this.policy = this.build(crls);
    } catch (e) {
      // Rows hold only CRLs that parsed and verified when stored; keep the previous policy if one does not now.
      this.o.log.error("crl: the stored CRLs could not be loaded; keeping the previous ones", {
        error: (e as Error).message,
      });
      return;
    }
    this.version = version;
    this.cache.clear();
    this.generation++;
  }

  private async sync(): Promise<void> {
    if (Date.now() - this.checkedAt < (this.o.syncMs ?? 5000)) return;
    this.syncing ??= this.reload().finally(() => {
      this.syncing = undefined;
    });
    await this.syncing;
  }

  async validate(cert: CertInfo, options: ValidateOptions = {}): Promise<TrustResult> {
    await this.sync();
    if (options.time) return this.policy.validate(cert, options);
    const key = [cert.sha256, options.purpose ?? "", ...(options.intermediates ?? []).map((c) => c.sha256)].join(":");
    const now = this.o.now().getTime();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.result;
    const generation = this.generation;
    const result = await this.policy.validate(cert, options);
    if (generation === this.generation) {
      const notAfter = Math.min(...result.path.map((c) => c.notAfter.getTime()));
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, { result, until: Math.min(now + (this.o.cacheMs ?? 60_000), notAfter) });
    }
    return result;
  }
}

/**
 * A token bucket per key (the client's source address): each key holds at most `burst` tokens, refilled at
 * `perMinute` tokens a minute; a request takes one. Used for the unauthenticated auth endpoints (challenge, login),
 * so one address cannot hammer them. Memory is bounded: when more than `maxKeys` addresses are tracked, the buckets
 * that have refilled completely (idle addresses) are dropped.
 *
 * Note: behind a reverse proxy every client has the proxy's address (no proxy header is trusted), so they share one
 * bucket; raise the limits for such a deployment.
 */
export interface RateLimitConfig {
  /** Requests an address may make at once. Default 60. */
  burst: number;
  /** Requests an address regains per minute. Default 60. */
  perMinute: number;
}

export const DEFAULT_AUTH_RATE_LIMIT: RateLimitConfig = { burst: 60, perMinute: 60 };

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** `now` (ms clock) is a parameter for tests; default Date.now. `maxKeys` default 10 000. */
  constructor(
    private readonly cfg: RateLimitConfig,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {
    if (!(cfg.burst >= 1) || !(cfg.perMinute > 0)) {
      throw new RangeError("A rate limit needs burst >= 1 and perMinute > 0.");
    }
  }

  /**
   * Takes one token for `key`. Returns 0 when the request may proceed, otherwise the whole seconds (at least 1)
   * until a token is available again (nothing is taken then).
   */
  take(key: string): number {
    const t = this.now();
    const perMs = this.cfg.perMinute / 60_000;
    const b = this.buckets.get(key);
    const tokens = b ? Math.min(this.cfg.burst, b.tokens + (t - b.at) * perMs) : this.cfg.burst;
    if (tokens >= 1) {
      if (!b && this.buckets.size >= this.maxKeys) this.sweep(t, perMs);
      this.buckets.set(key, { tokens: tokens - 1, at: t });
      return 0;
    }
    this.buckets.set(key, { tokens, at: t });
    return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
  }

  private sweep(t: number, perMs: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (t - b.at) * perMs >= this.cfg.burst) this.buckets.delete(k);
    }
  }
}

/**
 * The token bucket of the unauthenticated auth endpoints (challenge, login), per source address: each holds at
 * most `burst` tokens, refilled at `perMinute` tokens a minute; a request takes one. The buckets live in the
 * database (AuthRepository.takeRateLimitToken), so every relay instance draws from the same one.
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

/** Throws RangeError unless burst >= 1 and perMinute > 0. */
export function checkRateLimit(cfg: RateLimitConfig): RateLimitConfig {
  if (!(cfg.burst >= 1) || !(cfg.perMinute > 0)) {
    throw new RangeError("A rate limit needs burst >= 1 and perMinute > 0.");
  }
  return cfg;
}

/**
 * One request against a bucket that held `tokens` at `atMs` (undefined: a new, full bucket), at `nowMs`. Returns the
 * bucket's new content and `wait`: 0 when the request may proceed (one token taken), otherwise the whole seconds (at
 * least 1) until a token is available again (nothing taken then).
 */
export function takeToken(
  bucket: { tokens: number; atMs: number } | undefined,
  nowMs: number,
  cfg: RateLimitConfig,
): { tokens: number; wait: number } {
  const perMs = cfg.perMinute / 60_000;
  const elapsed = bucket ? Math.max(0, nowMs - bucket.atMs) : 0;
  const tokens = bucket ? Math.min(cfg.burst, bucket.tokens + elapsed * perMs) : cfg.burst;
  if (tokens >= 1) return { tokens: tokens - 1, wait: 0 };
  return { tokens, wait: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
}

/** How long an untouched bucket takes to fill up again (after that its row carries nothing and may go). */
export function refillMs(cfg: RateLimitConfig): number {
  return Math.ceil(cfg.burst / (cfg.perMinute / 60_000));
}

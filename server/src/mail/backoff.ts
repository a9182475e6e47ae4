/** Delays between delivery attempts. */
export interface BackoffPolicy {
  /** Delay after the first failed attempt, before jitter. Must be at least 1 ms. */
  baseMs: number;
  /** Upper bound of the un-jittered delay. */
  maxMs: number;
}

/**
 * The wait after the `attempts`-th failed attempt (1-based): exponential (`baseMs * 2^(attempts-1)`, capped at
 * `maxMs`) with "equal jitter": half of it fixed, the other half scaled by `random()` in [0, 1). Because the fixed
 * half of attempt n equals the full delay of attempt n-1, delays never shrink from one attempt to the next (until
 * the cap is reached), and many messages failing together do not retry in lockstep.
 */
export function backoffDelayMs(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempts - 1);
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 52));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(1, Math.round(raw / 2 + (raw / 2) * r));
}

// A bounded closed-loop load generator for the relay-server benchmark: N concurrent loops, each with its own
// logged-in client, issuing requests until a total count or a time limit is reached. It measures; it asserts nothing
// about speed.
import { performance } from "node:perf_hooks";

/** The p-th percentile (0-100) of ascending `sorted` by nearest rank; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summarize(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/**
 * Runs `clients.length` concurrent loops. Request number i (0-based, shared counter across loops) is
 * `operation(i, client)`, which returns `{ name, run }`; `run()` must resolve when the response is complete and
 * checked, and throw on any failure (counted as an error of `name`, the loop goes on). Stops issuing once `requests`
 * have been issued, `maxSeconds` (default 120) have passed or `shouldStop()` returns true, then waits for requests
 * in flight.
 *
 * Returns `{ issued, seconds, requestsPerSec, p50Ms, p99Ms, maxMs, errors, errorSamples, ops }` where latencies are
 * of completed requests (errors included) and `ops` holds the same figures per operation name.
 */
export async function runLoad({ clients, requests, maxSeconds = 120, operation, shouldStop = () => false }) {
  const all = [];
  const byOp = new Map();
  const errorSamples = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + maxSeconds * 1000;

  async function loop(client) {
    while (next < requests && performance.now() < deadline && !shouldStop()) {
      const i = next++;
      const op = operation(i, client);
      const entry = byOp.get(op.name) ?? { latencies: [], errors: 0 };
      byOp.set(op.name, entry);
      const t0 = performance.now();
      try {
        await op.run();
      } catch (e) {
        errors++;
        entry.errors++;
        if (errorSamples.length < 5) errorSamples.push(`${op.name}: ${e?.message ?? e}`);
      }
      const ms = performance.now() - t0;
      all.push(ms);
      entry.latencies.push(ms);
    }
  }

  await Promise.all(clients.map(loop));
  const seconds = (performance.now() - start) / 1000;
  const ops = {};
  for (const [name, e] of byOp) ops[name] = { ...summarize(e.latencies), errors: e.errors };
  return {
    issued: next,
    seconds,
    requestsPerSec: all.length / seconds,
    ...summarize(all),
    errors,
    errorSamples,
    ops,
  };
}

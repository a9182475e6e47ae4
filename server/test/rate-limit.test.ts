import { describe, expect, test } from "vitest";
import { TokenBucketLimiter } from "../src/auth/rate-limit.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, startTestServer } from "./helpers.js";

/** The per-address token bucket on the unauthenticated auth endpoints: unit (clock injected) and over a real socket. */

describe("TokenBucketLimiter", () => {
  test("allows a burst, then names the wait; tokens come back at perMinute; addresses are separate", () => {
    let t = 0;
    const l = new TokenBucketLimiter({ burst: 2, perMinute: 6 }, () => t);
    expect([l.take("a"), l.take("a")]).toEqual([0, 0]);
    expect(l.take("a")).toBe(10); // one token per 10 s
    expect(l.take("b")).toBe(0);
    t += 9_000;
    expect(l.take("a")).toBe(1);
    t += 1_000;
    expect(l.take("a")).toBe(0);
    expect(() => new TokenBucketLimiter({ burst: 0, perMinute: 1 })).toThrow(RangeError);
  });

  test("memory stays bounded: idle (refilled) addresses are dropped when too many are tracked", () => {
    let t = 0;
    const l = new TokenBucketLimiter({ burst: 1, perMinute: 60 }, () => t, 2);
    l.take("a");
    l.take("b");
    t += 60_000;
    l.take("c"); // a and b have refilled: swept
    expect(l.take("a")).toBe(0);
    t += 0;
    expect(l.take("c")).toBeGreaterThan(0);
  });
});

describe("POST /v1/auth/challenge and /login are rate-limited per source address", () => {
  test("over the limit: 429 RATE_LIMITED with Retry-After, for challenge and login alike", async () => {
    const data = await freshDataDir();
    let server: RunningServer | undefined;
    try {
      server = await startTestServer(data.dir, { authRateLimit: { burst: 3, perMinute: 1 } });
      const a = new Api(server.url);
      for (let i = 0; i < 3; i++) {
        expect((await a.call("POST", "/v1/auth/challenge", { email: `probe${i}@example` })).status).toBe(200);
      }
      for (const path of ["/v1/auth/challenge", "/v1/auth/login"]) {
        const r = await a.call("POST", path, { email: "probe@example" });
        expect(r.status).toBe(429);
        expect(r.body.error.code).toBe("RATE_LIMITED");
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      }
      // The OpenAPI document (unauthenticated too) is not limited.
      expect((await a.call("GET", "/v1/openapi.json")).status).toBe(200);
    } finally {
      await server?.close();
      data.cleanup();
    }
  });
});

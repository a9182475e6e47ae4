import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkRateLimit, takeToken } from "../src/auth/rate-limit.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, startTestServer } from "./helpers.js";
import { DIALECTS, openTestDb, type TestDb } from "./helpers/postgres.js";

/**
 * The per-address token bucket on the unauthenticated auth endpoints: the arithmetic, the database bucket on both
 * databases (two instances, pruning), and over a real socket.
 */

describe("token bucket", () => {
  test("allows a burst, then names the wait; tokens come back at perMinute", () => {
    const cfg = { burst: 2, perMinute: 6 };
    let b = takeToken(undefined, 0, cfg);
    expect(b.wait).toBe(0);
    b = takeToken({ tokens: b.tokens, atMs: 0 }, 0, cfg);
    expect(b.wait).toBe(0);
    const denied = takeToken({ tokens: b.tokens, atMs: 0 }, 0, cfg);
    expect(denied.wait).toBe(10); // one token per 10 s
    expect(takeToken({ tokens: denied.tokens, atMs: 0 }, 9_000, cfg).wait).toBe(1);
    expect(takeToken({ tokens: denied.tokens, atMs: 0 }, 10_000, cfg).wait).toBe(0);
    expect(() => checkRateLimit({ burst: 0, perMinute: 1 })).toThrow(RangeError);
  });

  describe.each(DIALECTS)("in the database (%s): shared by instances, bounded", (dialect) => {
    let db: TestDb;
    beforeAll(async () => {
      db = await openTestDb(dialect);
    });
    afterAll(async () => {
      await db?.close();
    });

    test("addresses are separate; two instances draw from one bucket; idle buckets are pruned", async () => {
      const cfg = { burst: 2, perMinute: 6 };
      const take = (key: string, t: number) => db.db.tx((uow) => uow.auth.takeRateLimitToken(key, t, cfg));
      // Concurrent takes from the same address (on PostgreSQL through two instances): exactly the burst is allowed.
      const other = await db.second();
      const both = await Promise.all([
        take("auth:a", 0),
        other.tx((uow) => uow.auth.takeRateLimitToken("auth:a", 0, cfg)),
        take("auth:a", 0),
      ]);
      expect(both.filter((w) => w === 0)).toHaveLength(2);
      expect(both.filter((w) => w > 0)).toEqual([10]);
      expect(await take("auth:b", 0)).toBe(0);
      expect(await take("auth:a", 9_000)).toBe(1);
      expect(await take("auth:a", 10_000)).toBe(0);
      // 20 s later both buckets are full again: a new address prunes them.
      expect(await take("auth:c", 40_000)).toBe(0);
      const keys = await db.db.read((uow) => uow.sql.q.selectFrom("rate_limits").select("key").execute());
      expect(keys.map((k) => k.key)).toEqual(["auth:c"]);
    });
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

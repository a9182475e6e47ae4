import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { systemClock } from "../src/clock.js";
import { type Job, JobRunner } from "../src/jobs/runner.js";
import { silentLogger } from "../src/log.js";
import { DIALECTS, openTestDb, type TestDb } from "./helpers/postgres.js";

/**
 * Background jobs run on one instance at a time (leases with expiry): two instances' runners on one database never
 * run a job together; when the holder stops renewing (stopped, or killed: its lease simply expires) the other takes
 * the job over.
 */
describe.each(DIALECTS)("job leases (%s)", (dialect) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(dialect);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function waitFor(done: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
    if (!done()) throw new Error(`timed out waiting for ${what}`);
  }

  test("a lease is taken by one instance; renewed by it; free after it expires; given back on release", async () => {
    const db = t.db;
    const now = new Date("2026-05-01T00:00:00.000Z");
    const later = (ms: number) => new Date(now.getTime() + ms);
    const take = (owner: string, at: Date) => db.tx((uow) => uow.leases.acquire("x", owner, at, 1000));
    expect(await take("a", now)).toMatchObject({ owner: "a", generation: 1 });
    expect(await take("b", later(500))).toBeUndefined();
    expect(await take("a", later(900))).toMatchObject({ owner: "a", generation: 1 });
    expect(await take("b", later(1500))).toBeUndefined(); // a renewed until 1900
    expect(await take("b", later(1900))).toMatchObject({ owner: "b", generation: 2 });
    await db.tx((uow) => uow.leases.release("x", "a")); // not a's any more: nothing happens
    expect(await db.read((uow) => uow.leases.get("x"))).toMatchObject({ owner: "b" });
    await db.tx((uow) => uow.leases.release("x", "b"));
    expect(await take("a", later(2000))).toMatchObject({ owner: "a", generation: 1 });
  });

  test("two runners: each job runs on exactly one; the other takes over when the holder stops", async () => {
    const running = new Map<string, Set<string>>();
    const overlaps: string[] = [];
    const jobsOf = (instance: string): Job[] =>
      ["mail", "retention"].map((name) => ({
        name,
        start() {
          const set = running.get(name) ?? new Set();
          if (set.size > 0) overlaps.push(`${name} on ${[...set]} and ${instance}`);
          set.add(instance);
          running.set(name, set);
        },
        async stop() {
          running.get(name)?.delete(instance);
        },
      }));
    const timings = { ttlMs: 400, renewMs: 100 };
    const a = new JobRunner(t.db, jobsOf("a"), { instance: "a", clock: systemClock, log: silentLogger, timings });
    const b = new JobRunner(await t.second(), jobsOf("b"), {
      instance: "b",
      clock: systemClock,
      log: silentLogger,
      timings,
    });
    await a.start();
    await b.start();
    try {
      expect([a.holds("mail"), b.holds("mail")]).toEqual([true, false]);
      expect([a.holds("retention"), b.holds("retention")]).toEqual([true, false]);
      // Several renewal rounds: nothing moves while a renews.
      await new Promise((r) => setTimeout(r, 600));
      expect(b.holds("mail")).toBe(false);
      await a.stop();
      await waitFor(() => b.holds("mail") && b.holds("retention"), "b to take the jobs over");
      expect(running.get("mail")).toEqual(new Set(["b"]));
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(overlaps).toEqual([]);
  });
});

import { ApiError } from "@sealpost/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { enqueueMail } from "../src/mail/outbox.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, registerFixtures, startTestServer } from "./helpers.js";
import { TEST_DB } from "./helpers/postgres.js";
import { rawGet, rawRun } from "./helpers/sql.js";

/**
 * The operators' endpoints (issue 13 item 5) through the typed client, on the run's database: audit browse
 * (paged, filtered), mail outbox and retry, server status, case statistics; roles admin and ops only.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let admin: Api;
let ops: Api;
let staff: Api;
const caseIds: string[] = [];

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  ops = new Api(server.url);
  await ops.login("ops-liu");
  staff = new Api(server.url);
  await staff.login("soc-chen");
  for (let i = 0; i < 5; i++) {
    const c = await staff.client.createCase({
      body: { category: "WELFARE-TAX", receivingAgency: "KHH-TAX", recordCount: i + 1, uploadNo: `OPS-${i}` },
    });
    caseIds.push(c.case.id);
  }
  await staff.client.cancelCase({ params: { id: caseIds[4]! }, body: { reason: "registered twice" } });
});
afterAll(async () => {
  await server?.close();
  await data?.cleanup();
});

/** The ApiError a call fails with. */
async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}

describe("roles", () => {
  test("staff get 403 FORBIDDEN, no token 401, on every ops endpoint; retry is ops only", async () => {
    const anon = new Api(server.url);
    for (const api of [staff, anon]) {
      const expected = api === staff ? 403 : 401;
      expect((await refusal(api.client.listAudit({}))).status).toBe(expected);
      expect((await refusal(api.client.listOutbox({}))).status).toBe(expected);
      expect((await refusal(api.client.getStatus({}))).status).toBe(expected);
      expect((await refusal(api.client.getCaseStats({}))).status).toBe(expected);
      expect((await refusal(api.client.retryMail({ params: { id: 1 } }))).status).toBe(expected);
    }
    const e = await refusal(admin.client.retryMail({ params: { id: 1 } }));
    expect([e.status, e.code]).toEqual([403, "FORBIDDEN"]);
  });
});

describe("audit browse", () => {
  test("pages newest first cover every entry exactly once, for admin and ops alike", async () => {
    const total = Number(((await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM audit_log")) as { n: unknown }).n);
    expect(total).toBeGreaterThan(20);
    const seen: number[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const page = await (pages % 2 ? ops : admin).client.listAudit({
        query: { limit: 7, ...(before ? { before } : {}) },
      });
      expect(page.entries.length).toBeLessThanOrEqual(7);
      seen.push(...page.entries.map((e) => e.seq));
      before = page.nextCursor ?? undefined;
      pages++;
    } while (before);
    expect(seen.length).toBe(total);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 7));
  });

  test("filters narrow: action and action prefix, actor, case, agency, time", async () => {
    const reg = await ops.client.listAudit({ query: { action: "case.register", limit: 500 } });
    expect(reg.entries.map((e) => e.caseId).sort()).toEqual([...caseIds].sort());
    const all = await ops.client.listAudit({ query: { action: "case.", limit: 500 } });
    expect(all.entries.every((e) => e.action.startsWith("case."))).toBe(true);
    expect(all.entries.some((e) => e.action === "case.cancel")).toBe(true);
    const one = await ops.client.listAudit({ query: { caseId: caseIds[4]! } });
    expect(new Set(one.entries.map((e) => e.action))).toEqual(new Set(["case.register", "case.cancel"]));
    const byActor = await ops.client.listAudit({ query: { actor: reg.entries[0]!.actor!, action: "case.register" } });
    expect(byActor.entries.length).toBe(5);
    const byAgency = await ops.client.listAudit({ query: { agency: "KHH-TAX" } });
    expect(byAgency.entries.every((e) => e.agency === "KHH-TAX")).toBe(true);
    const future = await ops.client.listAudit({ query: { from: "2999-01-01T00:00:00Z" } });
    expect(future).toEqual({ entries: [], nextCursor: null });
    const past = await ops.client.listAudit({ query: { to: "2000-01-01T00:00:00Z" } });
    expect(past.entries).toEqual([]);
    // Each entry's hash is the one the chain holds.
    const last = (await rawGet(server.ctx.db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")) as {
      seq: number;
      hash: string;
    };
    const newest = (await ops.client.listAudit({ query: { limit: 1 } })).entries[0]!;
    expect([newest.seq, newest.hash]).toEqual([Number(last.seq), last.hash]);
  });

  test("a bad cursor or limit is 400 BAD_REQUEST", async () => {
    for (const query of [{ before: "abc" }, { before: "0" }, { limit: 0 }, { limit: 501 }]) {
      const e = await refusal(ops.client.listAudit({ query: query as never }));
      expect([e.status, e.code]).toEqual([400, "BAD_REQUEST"]);
    }
  });
});

describe("mail outbox", () => {
  test("lists newest first, filters by state and case; retry requeues only a failed notice", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await enqueueMail(server.ctx.db, {
          to: ["ops@sealpost.example"],
          subject: `test ${i}`,
          text: "body",
          kind: "test.notice",
          ...(i === 0 ? { caseId: caseIds[0]! } : {}),
        }),
      );
    }
    const ofCase = await ops.client.listOutbox({ query: { caseId: caseIds[0]! } });
    expect(ofCase.messages.map((m) => [m.id, m.kind, m.state])).toEqual([[ids[0], "test.notice", "queued"]]);
    const page1 = await admin.client.listOutbox({ query: { limit: 2 } });
    expect(page1.messages.map((m) => m.id)).toEqual([ids[2], ids[1]]);
    const page2 = await admin.client.listOutbox({ query: { limit: 2, before: page1.nextCursor! } });
    expect(page2.messages[0]!.id).toBe(ids[0]);
    // A notice whose attempts were used up (tampered on purpose: no SMTP server in this test).
    await rawRun(
      server.ctx.db,
      "UPDATE mail_outbox SET state = 'failed', attempts = 5, last_error = 'refused' WHERE id = ?",
      ids[1],
    );
    const failed = await ops.client.listOutbox({ query: { state: "failed" } });
    expect(failed.messages.map((m) => [m.id, m.attempts, m.lastError])).toEqual([[ids[1], 5, "refused"]]);
    const status = await ops.client.getStatus({});
    expect(status.mail.counts.failed).toBe(1);
    expect(status.mail.lastError).toMatchObject({ id: ids[1], message: "refused" });
    const retried = await ops.client.retryMail({ params: { id: ids[1]! } });
    expect([retried.state, retried.attempts]).toEqual(["queued", 0]);
    const again = await refusal(ops.client.retryMail({ params: { id: ids[1]! } }));
    expect([again.status, again.code]).toEqual([409, "CONFLICT"]);
    const missing = await refusal(ops.client.retryMail({ params: { id: 999_999 } }));
    expect([missing.status, missing.code]).toEqual([404, "NOT_FOUND"]);
  });
});

describe("status", () => {
  test("cases by state, database, retention, drops and the audit chain's head", async () => {
    const s = await admin.client.getStatus({});
    expect(s.database).toBe(TEST_DB);
    expect(s.cases).toMatchObject({ registered: 4, cancelled: 1, sent: 0 });
    expect(s.retention.retentionDays).toBeGreaterThan(0);
    expect(s.drops).toEqual({ total: 0, enabled: 0, failing: [] });
    const last = (await rawGet(server.ctx.db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")) as {
      seq: number;
      hash: string;
    };
    expect(s.audit).toMatchObject({ lastSeq: Number(last.seq), lastHash: last.hash, entries: Number(last.seq) });
    expect(Date.parse(s.startedAt)).toBeLessThanOrEqual(Date.parse(s.now));
  });
});

describe("statistics", () => {
  test("cases by month, agency, category and state; median time from sent to result", async () => {
    // Known times (set on purpose: no sealed files in this test): three cases done in 60 s, 120 s and 600 s.
    const times = [
      ["2026-10-03T08:00:00.000Z", "2026-10-03T08:01:00.000Z", "2026-10-01T08:00:00.000Z"],
      ["2026-10-04T08:00:00.000Z", "2026-10-04T08:02:00.000Z", "2026-10-02T08:00:00.000Z"],
      ["2026-11-05T08:00:00.000Z", "2026-11-05T08:10:00.000Z", "2026-11-02T08:00:00.000Z"],
    ];
    for (const [i, [sent, result, created]] of times.entries()) {
      await rawRun(
        server.ctx.db,
        "UPDATE cases SET state = 'result_received', payload_at = ?, result_at = ?, created_at = ? WHERE id = ?",
        sent,
        result,
        created,
        caseIds[i],
      );
    }
    const st = await ops.client.getCaseStats({});
    expect(st.total).toBe(5);
    expect(st.groups.reduce((n, g) => n + g.cases, 0)).toBe(5);
    expect(st.groups).toContainEqual({
      month: "2026-10",
      senderAgency: "KHH-SOC",
      receivingAgency: "KHH-TAX",
      category: "WELFARE-TAX",
      state: "result_received",
      cases: 2,
    });
    expect(st.groups.find((g) => g.state === "cancelled")?.cases).toBe(1);
    expect(st.sentToResult).toEqual({
      cases: 3,
      medianSeconds: 120,
      byMonth: [
        { month: "2026-10", cases: 2, medianSeconds: 90 },
        { month: "2026-11", cases: 1, medianSeconds: 600 },
      ],
    });
    const oct = await admin.client.getCaseStats({
      query: { from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z" },
    });
    expect([oct.total, oct.sentToResult.cases, oct.sentToResult.medianSeconds]).toEqual([2, 2, 90]);
    expect(oct.from).toBe("2026-10-01T00:00:00.000Z");
    const none = await admin.client.getCaseStats({ query: { from: "2999-01-01T00:00:00Z" } });
    expect(none).toMatchObject({ total: 0, groups: [], sentToResult: { cases: 0, medianSeconds: null, byMonth: [] } });
  });
});

import type { TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, registerFixtures, startTestServer } from "./helpers.js";
import { rawRun } from "./helpers/sql.js";

/**
 * Paging of GET /v1/cases over a real socket and real SQLite: 250 cases registered through the API by KHH-SOC, a few
 * of another agency pair written beside them, pages walked with the X-Next-Cursor header.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let soc: Api;
let tax: Api;
const created: string[] = [];
const foreign: string[] = [];
const cancelled = new Set<string>();

interface Item {
  id: string;
  state: string;
  senderAgency: string;
  receivingAgency: string;
  updatedAt: string;
}

async function newCase(i: number): Promise<string> {
  const r = await soc.call<TransferProfile>("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: i,
    uploadNo: `P${i}`,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.case.id;
}

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  // A third agency (fictional test data) with cases to KHH-TAX, written straight into the server's database.
  expect(
    (
      await admin.call("POST", "/v1/admin/agencies", {
        code: "TPE-LAB",
        name: "臺北市測試實驗室",
        email: "lab@tpe.example.gov.tw",
        allowCidrs: [],
      })
    ).status,
  ).toBe(201);
  const staff = await admin.call("POST", "/v1/admin/staff", {
    agency: "TPE-LAB",
    name: "測試員甲",
    email: "tester@tpe.example.gov.tw",
    role: "staff",
  });
  expect(staff.status).toBe(201);
  const insert = {
    run: (...args: unknown[]) =>
      rawRun(
        server.ctx.db,
        `INSERT INTO cases (id, state, category, sender_agency, sender_staff, receiving_agency, record_count, upload_no,
       created_at, updated_at) VALUES (?, 'registered', 'WELFARE-TAX', 'TPE-LAB', ?, 'KHH-TAX', 1, 'L1', ?, ?)`,
        ...args,
      ),
  };
  for (let i = 0; i < 5; i++) {
    const id = `C20261130-f0000${i}00`;
    const t = new Date().toISOString();
    await insert.run(id, staff.body.id, t, t);
    foreign.push(id);
  }
  soc = new Api(server.url);
  await soc.login("soc-chen");
  tax = new Api(server.url);
  await tax.login("tax-wang");
  for (let i = 0; i < 250; i++) created.push(await newCase(i));
  // Every tenth case is withdrawn (its updatedAt moves on), for the state filter.
  for (let i = 0; i < 250; i += 10) {
    expect((await soc.call("POST", `/v1/cases/${created[i]}/cancel`, { reason: "test" })).status).toBe(200);
    cancelled.add(created[i]!);
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

/** Walks every page of `query` as `api`; `between` runs after each page but the last. */
async function walk(api: Api, query: string, between?: () => Promise<void>): Promise<{ pages: Item[][] }> {
  const pages: Item[][] = [];
  let cursor: string | null = null;
  do {
    const r = await api.call<Item[]>("GET", `/v1/cases?${query}${cursor ? `&before=${cursor}` : ""}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
    pages.push(r.body);
    cursor = r.headers.get("x-next-cursor");
    if (cursor && between) await between();
    expect(pages.length).toBeLessThan(100);
  } while (cursor);
  return { pages };
}

const byUpdatedDesc = (a: Item, b: Item) =>
  a.updatedAt === b.updatedAt ? (a.id < b.id ? 1 : -1) : a.updatedAt < b.updatedAt ? 1 : -1;

describe("GET /v1/cases paging", () => {
  test("pages of 100 cover all 250 cases exactly once, in updatedAt DESC, id DESC order", async () => {
    const { pages } = await walk(soc, "limit=100");
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    const all = pages.flat();
    expect(new Set(all.map((c) => c.id)).size).toBe(250);
    expect(all.map((c) => c.id).sort()).toEqual([...created].sort());
    expect(all).toEqual([...all].sort(byUpdatedDesc));
    // The withdrawn cases changed last, so they lead.
    expect(new Set(all.slice(0, cancelled.size).map((c) => c.id))).toEqual(cancelled);
  });

  test("the default page is 100 cases with a cursor; the largest is 500 without one", async () => {
    const first = await soc.call<Item[]>("GET", "/v1/cases");
    expect(first.body).toHaveLength(100);
    expect(first.headers.get("x-next-cursor")).toMatch(/^[A-Za-z0-9_-]+$/);
    const big = await soc.call<Item[]>("GET", "/v1/cases?limit=500");
    expect(big.body).toHaveLength(250);
    expect(big.headers.get("x-next-cursor")).toBeNull();
  });

  test("cases registered while paging neither shift later pages nor show up twice", async () => {
    const added: string[] = [];
    const { pages } = await walk(soc, "box=outbox&limit=60", async () => {
      added.push(await newCase(1000 + added.length));
    });
    const ids = pages.flat().map((c) => c.id);
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(ids.some((id) => added.includes(id))).toBe(false);
    expect(added.length).toBe(4);
    created.push(...added);
  });

  test("filters page too: state=cancelled in pages of 7, inbox of the receiving agency", async () => {
    const { pages } = await walk(soc, "state=cancelled&limit=7");
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    const ids = pages.flat().map((c) => c.id);
    expect(new Set(ids)).toEqual(cancelled);
    expect(pages.flat().every((c) => c.state === "cancelled")).toBe(true);

    const inbox = (await walk(tax, "box=inbox&limit=100")).pages.flat();
    expect(inbox.map((c) => c.id).sort()).toEqual([...created, ...foreign].sort());
    expect(inbox.every((c) => c.receivingAgency === "KHH-TAX")).toBe(true);
    // KHH-TAX sends nothing.
    const outbox = await tax.call<Item[]>("GET", "/v1/cases?box=outbox");
    expect(outbox.body).toEqual([]);
    expect(outbox.headers.get("x-next-cursor")).toBeNull();
  });

  test("another agency's cases never appear, on any page or box", async () => {
    for (const q of ["limit=50", "box=inbox&limit=50", "box=outbox&limit=50", "state=registered&limit=500"]) {
      const all = (await walk(soc, q)).pages.flat();
      expect(
        all.some((c) => foreign.includes(c.id)),
        q,
      ).toBe(false);
      expect(
        all.every((c) => c.senderAgency === "KHH-SOC" || c.receivingAgency === "KHH-SOC"),
        q,
      ).toBe(true);
    }
    // A cursor cut from another agency's case only positions the walk; it discloses nothing of that case.
    const { pages } = await walk(
      soc,
      `limit=500&before=${Buffer.from(JSON.stringify(["9999-12-31T00:00:00.000Z", foreign[0]])).toString("base64url")}`,
    );
    expect(pages.flat()).toHaveLength(created.length);
  });

  test.each([
    ["limit=0"],
    ["limit=501"],
    ["limit=-1"],
    ["limit=abc"],
    ["limit=1.5"],
    ["limit="],
    ["limit=10&limit=20"],
    ["before=%21%21"],
    ["before=bm90LWpzb24"],
    [`before=${Buffer.from(JSON.stringify(["yesterday", "C1"])).toString("base64url")}`],
    [`before=${Buffer.from(JSON.stringify({ updatedAt: "2026-11-30T00:00:00Z", id: "C1" })).toString("base64url")}`],
    ["box=all"],
    ["state=lost"],
  ])("%s is BAD_REQUEST (400)", async (q) => {
    const r = await soc.call("GET", `/v1/cases?${q}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("BAD_REQUEST");
  });
});

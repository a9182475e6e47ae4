import type { RunningServer } from "@sealpost/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import { M, pki, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * `sealpost cases` paging through the real binary (spawned) against a server on a loopback port: the first page with
 * a note on stderr when more exist, `--all` following the server's cursor to the end, `--json` carrying nextCursor.
 * The registry is set up with the CLI's admin commands; the cases are written straight into the server's SQLite
 * database (registering them through `send` would seal files the test does not need).
 */

const COUNT = 7;

let relay: TestRelay;
let server: RunningServer;
const ids: string[] = [];

async function sp(id: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await sealpostAs(relay, id, args);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  relay = await startRelay("sealpost-cases-paging-", { adminName: true });
  server = relay.server;
  await sp("ops-wu", ["login"]);
  for (const code of ["KHH-SOC", "KHH-TAX"]) {
    await sp("ops-wu", [
      "admin",
      "agency",
      "add",
      code,
      "--name",
      M.agencies[code].name,
      "--email",
      M.agencies[code].email,
    ]);
  }
  const soc = M.people["soc-chen"];
  await sp("ops-wu", ["admin", "user", "add", "--agency", soc.agency, "--name", soc.name, "--email", soc.email]);
  await sp("ops-wu", ["admin", "cert", "add", pki(soc.sign.cert), "--user", soc.email]);
  await sp("ops-wu", ["admin", "category", "add", "WELFARE-TAX", "--name", "財稅查調", "--purpose", "test purpose"]);
  const q = server.ctx.db.kysely;
  const staff = await q.selectFrom("staff").select("id").where("email", "=", soc.email).executeTakeFirstOrThrow();
  for (let i = 0; i < COUNT; i++) {
    const id = `C20261130-0000000${i}`;
    const t = new Date(Date.UTC(2026, 10, 30, 1, 0, i)).toISOString();
    await q
      .insertInto("cases")
      .values({
        id,
        state: "registered",
        category: "WELFARE-TAX",
        sender_agency: "KHH-SOC",
        sender_staff: staff.id,
        receiving_agency: "KHH-TAX",
        record_count: 2,
        upload_no: `U${i}`,
        created_at: t,
        updated_at: t,
      })
      .execute();
    ids.push(id);
  }
  await sp("soc-chen", ["login"]);
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

test("cases: first page with a note on stderr; --all follows the cursor to every case; --json has nextCursor", async () => {
  const newestFirst = [...ids].reverse();

  const first = await sp("soc-chen", ["--json", "cases", "--limit", "3"]);
  const page = JSON.parse(first.stdout);
  expect(page.cases.map((c: { id: string }) => c.id)).toEqual(newestFirst.slice(0, 3));
  expect(typeof page.nextCursor).toBe("string");
  expect(first.stderr).toMatch(/more exist/);

  const all = await sp("soc-chen", ["--json", "cases", "--outbox", "--limit", "3", "--all"]);
  const every = JSON.parse(all.stdout);
  expect(every.cases.map((c: { id: string }) => c.id)).toEqual(newestFirst);
  expect(every.nextCursor).toBeNull();
  expect(all.stderr).not.toMatch(/more exist/);

  const human = await sp("soc-chen", ["cases", "--all", "--limit", "2"]);
  expect(human.stdout.trim().split("\n")).toHaveLength(COUNT);
  for (const id of ids) expect(human.stdout).toContain(id);
});

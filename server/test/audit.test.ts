import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type AuditEntryInput, entryHash } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import { loadConfig } from "../src/config.js";
import { openDb } from "../src/db/open.js";
import { Api, freshDataDir, REPO, registerFixtures, startTestServer } from "./helpers.js";
import { DIALECTS, openTestDb } from "./helpers/postgres.js";
import { rawGet, rawRun } from "./helpers/sql.js";

/** The hash-chained audit log, checked through the real `sealpost-server audit verify|export` commands. */

const BIN = join(REPO, "server/bin/sealpost-server.js");
let data: Awaited<ReturnType<typeof freshDataDir>>;

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

beforeAll(async () => {
  data = await freshDataDir();
  const server = await startTestServer(data.dir);
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  await server.close();
});
afterAll(() => data?.cleanup());

test("an intact chain verifies; export writes one JSON line per entry with sequence and hashes", () => {
  const ok = cli("audit", "verify", "--data", data.dir);
  expect(ok.status, ok.stderr).toBe(0);
  expect(ok.stdout).toMatch(/audit chain intact: \d+ entries/);
  const out = join(data.dir, "audit.jsonl");
  const ex = cli("audit", "export", "--data", data.dir, "-o", out);
  expect(ex.status, ex.stderr).toBe(0);
  const lines = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  expect(lines[0].action).toBe("agency.add");
  for (let i = 1; i < lines.length; i++) expect(lines[i].prevHash).toBe(lines[i - 1].hash);
  // Refuses to overwrite an existing export.
  expect(cli("audit", "export", "--data", data.dir, "-o", out).status).not.toBe(0);
});

test("the log refuses UPDATE and DELETE through SQL (triggers)", async () => {
  const db = await openDb(data.dir, loadConfig(data.dir).database);
  try {
    await expect(rawRun(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await expect(rawRun(db, "DELETE FROM audit_log WHERE seq = 1")).rejects.toThrow(/append-only/);
  } finally {
    await db.close();
  }
});

test("one row edited directly in the database: verify names that entry and exits 6", async () => {
  const db = await openDb(data.dir, loadConfig(data.dir).database);
  try {
    const n = Number((await rawGet<{ n: number }>(db, "SELECT COUNT(*) AS n FROM audit_log"))!.n);
    expect(n).toBeGreaterThan(10);
    // Someone with database access drops the guard and rewrites entry 5's detail.
    await rawRun(
      db,
      db.dialect === "postgres" ? "DROP TRIGGER audit_log_no_update ON audit_log" : "DROP TRIGGER audit_log_no_update",
    );
    const row = (await rawGet<{ detail: string }>(db, "SELECT detail FROM audit_log WHERE seq = 5"))!;
    const detail = { ...JSON.parse(row.detail), email: "intruder@example" };
    await rawRun(db, "UPDATE audit_log SET detail = ? WHERE seq = 5", JSON.stringify(detail));
  } finally {
    await db.close();
  }
  const r = cli("audit", "verify", "--data", data.dir);
  expect(r.status).toBe(6);
  expect(r.stderr).toContain("audit chain broken at entry 5");
  expect(r.stderr).toContain("4 entries before it verify");
});

describe.each(DIALECTS)("verifyAudit (%s)", (dialect) => {
  test("catches a re-hashed entry (its successor no longer links) and a deleted entry", async () => {
    const t = await openTestDb(dialect);
    const { db } = t;
    try {
      const append = (input: AuditEntryInput) => db.tx((uow) => uow.audit.append(input, new Date()));
      for (let i = 0; i < 5; i++) await append({ actor: "system", role: null, agency: null, action: `a${i}` });
      expect(await verifyAudit(db)).toMatchObject({ ok: true, entries: 5 });
      // Someone with direct database access drops the guards, then rewrites entry 2 and recomputes its own hash:
      // entry 3 then fails to link.
      for (const trigger of ["audit_log_no_update", "audit_log_no_delete"]) {
        await rawRun(db, dialect === "postgres" ? `DROP TRIGGER ${trigger} ON audit_log` : `DROP TRIGGER ${trigger}`);
      }
      const e2 = (await rawGet<{ time: string; prev_hash: string }>(db, "SELECT * FROM audit_log WHERE seq = 2"))!;
      const changed = {
        seq: 2,
        time: e2.time,
        actor: "mallory",
        role: null,
        agency: null,
        action: "a1",
        caseId: null,
        fileSha256: [],
        source: null,
        detail: {},
        prevHash: e2.prev_hash,
      };
      await rawRun(db, "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 2", entryHash(changed));
      expect((await verifyAudit(db)).broken).toMatchObject({ seq: 3, reason: "link" });
      await rawRun(db, "DELETE FROM audit_log WHERE seq >= 2");
      await append({ actor: "system", role: null, agency: null, action: "x" });
      await rawRun(db, "DELETE FROM audit_log WHERE seq = 1");
      expect((await verifyAudit(db)).broken).toMatchObject({ seq: 2, reason: "sequence" });
    } finally {
      await t.close();
    }
  });

  test("appends from two instances at once form one chain", async () => {
    const t = await openTestDb(dialect);
    try {
      const other = await t.second();
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? other : t.db).tx((uow) =>
            uow.audit.append({ actor: "system", role: null, agency: null, action: `c${i}` }, new Date()),
          ),
        ),
      );
      expect(await verifyAudit(t.db)).toMatchObject({ ok: true, entries: 40 });
    } finally {
      await t.close();
    }
  });
});

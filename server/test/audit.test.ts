import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, test } from "vitest";
import { appendAudit, entryHash } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import { openDatabase } from "../src/db/open.js";
import { Api, freshDataDir, REPO, registerFixtures, startTestServer } from "./helpers.js";

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

test("the log refuses UPDATE and DELETE through SQL (triggers)", () => {
  const db = openDatabase(data.dir);
  expect(() => db.prepare("UPDATE audit_log SET actor = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
  expect(() => db.prepare("DELETE FROM audit_log WHERE seq = 1").run()).toThrow(/append-only/);
  db.close();
});

test("one row edited directly in SQLite: verify names that entry and exits 6", () => {
  const db = new Database(join(data.dir, "sealpost.db"));
  const n = (db.prepare("SELECT COUNT(*) AS n FROM audit_log").get() as { n: number }).n;
  expect(n).toBeGreaterThan(10);
  // Someone with file access drops the guard and rewrites entry 5's detail.
  db.exec("DROP TRIGGER audit_log_no_update");
  db.prepare("UPDATE audit_log SET detail = json_set(detail, '$.email', 'intruder@example') WHERE seq = 5").run();
  db.close();
  const r = cli("audit", "verify", "--data", data.dir);
  expect(r.status).toBe(6);
  expect(r.stderr).toContain("audit chain broken at entry 5");
  expect(r.stderr).toContain("4 entries before it verify");
});

test("verifyAudit also catches a re-hashed entry (its successor no longer links) and a deleted entry", () => {
  const db = new Database(":memory:");
  db.exec(
    readFileSync(join(REPO, "server/src/db/core-migrations.ts"), "utf8").match(/CREATE TABLE audit_log[\s\S]*?\);/)![0],
  );
  for (let i = 0; i < 5; i++) appendAudit(db, { actor: "system", role: null, agency: null, action: `a${i}` });
  expect(verifyAudit(db)).toMatchObject({ ok: true, entries: 5 });
  // Rewrite entry 2 and recompute its own hash: entry 3 then fails to link.
  const e2 = db.prepare("SELECT * FROM audit_log WHERE seq = 2").get() as Record<string, unknown>;
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
  db.prepare("UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 2").run(entryHash(changed));
  expect(verifyAudit(db).broken).toMatchObject({ seq: 3, reason: "link" });
  db.prepare("DELETE FROM audit_log WHERE seq >= 2").run();
  appendAudit(db, { actor: "system", role: null, agency: null, action: "x" });
  db.prepare("DELETE FROM audit_log WHERE seq = 1").run();
  expect(verifyAudit(db).broken).toMatchObject({ seq: 2, reason: "sequence" });
});

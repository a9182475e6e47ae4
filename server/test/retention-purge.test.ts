/**
 * Retention purge with real SQLite (the real core, mail and drops migrations), server-core's LocalFileStore and real
 * files in a temp folder. Time is passed in; nothing waits on timers.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { iterateAudit } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import { migrate } from "../src/db/migrate.js";
import type { Logger } from "../src/log.js";
import { RetentionError } from "../src/retention/errors.js";
import { purgeExpiredFiles } from "../src/retention/purge.js";
import { retentionStatus } from "../src/retention/status.js";
import { startRetentionWorker } from "../src/retention/worker.js";
import { LocalFileStore } from "../src/files/store.js";

const NOW = new Date("2026-06-01T00:00:00.000Z");
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 24 * 3600_000).toISOString();

let dir: string;
let db: Database.Database;
let store: LocalFileStore;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "sealpost-retention-"));
  store = new LocalFileStore(dir);
  await store.ensure();
  db = new Database(path.join(dir, "sealpost.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  migrate(db);
  const t = daysAgo(100);
  db.prepare("INSERT INTO agencies (code, name, email, created_at) VALUES (?, ?, ?, ?)").run(
    "TEST-COUNTY",
    "測試縣政府",
    "it@county.example",
    t,
  );
  db.prepare("INSERT INTO agencies (code, name, email, created_at) VALUES (?, ?, ?, ?)").run(
    "TEST-HH",
    "範例戶政事務所",
    "it@hh.example",
    t,
  );
  db.prepare("INSERT INTO staff (id, agency, name, email, role, created_at) VALUES (?, ?, ?, ?, 'staff', ?)").run(
    "S1",
    "TEST-COUNTY",
    "王測試",
    "wang@county.example",
    t,
  );
  db.prepare("INSERT INTO categories (code, name, purpose, created_at) VALUES (?, ?, ?, ?)").run(
    "HH-MATCH",
    "戶籍資料比對",
    "test",
    t,
  );
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a real file into the store and registers it in `files`; returns its SHA-256. */
function storeFile(size = 4096): string {
  const bytes = randomBytes(size);
  const sha = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(path.join(store.filesDir, sha), bytes);
  db.prepare("INSERT INTO files (sha256, size, created_at) VALUES (?, ?, ?)").run(sha, size, daysAgo(60));
  return sha;
}

function addCase(
  id: string,
  state: string,
  files: { payload?: string; result?: string },
  endedDaysAgo: number | null,
): void {
  db.prepare(
    `INSERT INTO cases (id, state, category, sender_agency, sender_staff, receiving_agency, record_count, upload_no,
       payload_sha256, payload_size, result_sha256, result_size, created_at, updated_at, ended_at)
     VALUES (?, ?, 'HH-MATCH', 'TEST-COUNTY', 'S1', 'TEST-HH', 10, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    state,
    `U-${id}`,
    files.payload ?? null,
    files.payload ? 4096 : null,
    files.result ?? null,
    files.result ? 4096 : null,
    daysAgo(70),
    daysAgo(endedDaysAgo ?? 1),
    endedDaysAgo === null ? null : daysAgo(endedDaysAgo),
  );
}

const onDisk = (sha: string) => existsSync(path.join(store.filesDir, sha));
const purgedAt = (sha: string) =>
  (db.prepare("SELECT purged_at FROM files WHERE sha256 = ?").get(sha) as { purged_at: string | null }).purged_at;
const purgedRows = () =>
  db.prepare("SELECT sha256, case_id AS caseId, role FROM purged_files ORDER BY case_id, role").all() as {
    sha256: string;
    caseId: string;
    role: string;
  }[];

function captureLog(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

describe("purgeExpiredFiles", () => {
  it("deletes files of cases ended longer ago than retentionDays and keeps everything else", async () => {
    const aPayload = storeFile();
    const aResult = storeFile(1000);
    const bPayload = storeFile();
    const cPayload = storeFile(); // ended 10 days ago: within retention
    const dPayload = storeFile(); // active case
    const shared = storeFile(); // cancelled case E and active case F share it by content address
    addCase("A", "result_received", { payload: aPayload, result: aResult }, 40);
    addCase("B", "cancelled", { payload: bPayload }, 31);
    addCase("C", "result_received", { payload: cPayload }, 10);
    addCase("D", "received", { payload: dPayload }, null);
    addCase("E", "cancelled", { payload: shared }, 40);
    addCase("F", "sent", { payload: shared }, null);
    addCase("R", "registered", {}, null);
    db.prepare(
      `INSERT INTO certificates (id, staff_id, purpose, status, sha256, der, subject, common_name, issuer, serial_hex,
         not_before, not_after, created_at) VALUES ('K1', 'S1', 'sign', 'active', 'k', x'00', 's', 'c', 'i', '01', ?, ?, ?)`,
    ).run(daysAgo(90), daysAgo(-300), daysAgo(90));
    db.prepare(
      `INSERT INTO receipts (case_id, kind, staff_id, cert_id, sha256, statement, signature, created_at)
       VALUES ('A', 'payload', 'S1', 'K1', ?, '{}', 'sig', ?)`,
    ).run(aPayload, daysAgo(45));
    const before = db.prepare("SELECT * FROM cases ORDER BY id").all();

    expect(retentionStatus(db, { retentionDays: 30, now: NOW })).toMatchObject({
      purgedFiles: 0,
      dueFiles: 3,
      dueBytes: 4096 + 1000 + 4096,
    });

    const r = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });

    expect(retentionStatus(db, { retentionDays: 30, now: NOW })).toMatchObject({
      purgedFiles: 3,
      purgedBytes: 4096 + 1000 + 4096,
      dueFiles: 0,
      dueBytes: 0,
    });
    expect(r.cutoff).toBe(daysAgo(30));
    expect(r.failed).toEqual([]);
    expect(r.purged.map((p) => p.sha256).sort()).toEqual([aPayload, aResult, bPayload].sort());
    expect(r.bytes).toBe(4096 + 1000 + 4096);
    for (const sha of [aPayload, aResult, bPayload]) {
      expect(onDisk(sha)).toBe(false);
      expect(purgedAt(sha)).not.toBeNull();
    }
    for (const sha of [cPayload, dPayload, shared]) {
      expect(onDisk(sha)).toBe(true);
      expect(purgedAt(sha)).toBeNull();
    }
    expect(purgedRows()).toEqual([
      { sha256: aPayload, caseId: "A", role: "payload" },
      { sha256: aResult, caseId: "A", role: "result" },
      { sha256: bPayload, caseId: "B", role: "payload" },
    ]);
    // Case rows (hashes, sizes, states) and receipts are untouched.
    expect(db.prepare("SELECT * FROM cases ORDER BY id").all()).toEqual(before);
    expect(db.prepare("SELECT sha256 FROM receipts WHERE case_id = 'A'").get()).toEqual({ sha256: aPayload });
    // One audit entry per purged (file, case), in an intact chain.
    const entries = [...iterateAudit(db)].filter((e) => e.action === "retention.purged");
    expect(entries.map((e) => [e.caseId, e.fileSha256[0], e.detail.role]).sort()).toEqual(
      [
        ["A", aPayload, "payload"],
        ["A", aResult, "result"],
        ["B", bPayload, "payload"],
      ].sort(),
    );
    expect(entries.every((e) => e.actor === "system" && e.detail.retentionDays === 30)).toBe(true);
    expect(verifyAudit(db)).toMatchObject({ ok: true, entries: 3 });

    // A second run finds nothing more to do; audit and records stay.
    const again = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });
    expect(again.purged).toEqual([]);
    expect(verifyAudit(db)).toMatchObject({ ok: true, entries: 3 });
  });

  it("keeps a shared file until every case using it has ended past retention, then records it for each", async () => {
    const shared = storeFile();
    addCase("G", "cancelled", { payload: shared }, 40);
    addCase("H", "result_received", { result: shared }, 10);

    expect((await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW })).purged).toEqual([]);
    expect(onDisk(shared)).toBe(true);

    const later = new Date(NOW.getTime() + 25 * 24 * 3600_000);
    const r = await purgeExpiredFiles(db, { store, retentionDays: 30, now: later });
    expect(r.purged).toEqual([
      {
        sha256: shared,
        size: 4096,
        cases: [
          { caseId: "G", role: "payload" },
          { caseId: "H", role: "result" },
        ],
      },
    ]);
    expect(onDisk(shared)).toBe(false);
    expect(purgedRows().map((p) => p.caseId)).toEqual(["G", "H"]);
  });

  it("purges at the next run with retentionDays 0, and rejects a negative or non-numeric retentionDays", async () => {
    const sha = storeFile();
    addCase("A", "result_received", { payload: sha }, 0);
    await expect(purgeExpiredFiles(db, { store, retentionDays: -1, now: NOW })).rejects.toBeInstanceOf(RetentionError);
    await expect(purgeExpiredFiles(db, { store, retentionDays: Number.NaN, now: NOW })).rejects.toMatchObject({
      code: "BAD_CONFIG",
    });
    expect(onDisk(sha)).toBe(true);
    expect((await purgeExpiredFiles(db, { store, retentionDays: 0, now: NOW })).purged).toHaveLength(1);
    expect(onDisk(sha)).toBe(false);
  });

  it("records a file already gone from disk (crash between delete and record)", async () => {
    const sha = storeFile();
    addCase("A", "cancelled", { payload: sha }, 40);
    await store.remove(sha); // the previous run deleted it, then the process died
    const r = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });
    expect(r.purged.map((p) => p.sha256)).toEqual([sha]);
    expect(purgedAt(sha)).not.toBeNull();
  });

  it("reports, logs and leaves unrecorded a file the store cannot delete; the next run retries", async () => {
    const sha = storeFile();
    addCase("A", "cancelled", { payload: sha }, 40);
    const log = captureLog();
    const broken = {
      remove: async () => {
        throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      },
    };
    const r = await purgeExpiredFiles(db, { store: broken, retentionDays: 30, now: NOW, log });
    expect(r.purged).toEqual([]);
    expect(r.failed).toEqual([{ sha256: sha, error: "EACCES: permission denied" }]);
    expect(purgedAt(sha)).toBeNull();
    expect(log.lines.filter((l) => l.level === "error").map((l) => l.fields?.sha256)).toEqual([sha]);
    expect((await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW })).purged).toHaveLength(1);
    expect(onDisk(sha)).toBe(false);
  });

  it("detects a case taking the file up during its deletion: audited conflict, not recorded as purged", async () => {
    const sha = storeFile();
    addCase("A", "cancelled", { payload: sha }, 40);
    const log = captureLog();
    // While the file is being removed, an identical upload makes it a new active case's payload.
    const racing = {
      remove: async (s: string) => {
        addCase("N", "sent", { payload: s }, null);
        await store.remove(s);
      },
    };
    const r = await purgeExpiredFiles(db, { store: racing, retentionDays: 30, now: NOW, log });
    expect(r.purged).toEqual([]);
    expect(r.failed.map((f) => f.sha256)).toEqual([sha]);
    expect(r.failed[0]!.error).toMatch(/case N/);
    expect(purgedAt(sha)).toBeNull();
    expect([...iterateAudit(db)].map((e) => [e.action, e.caseId])).toEqual([["retention.purge_conflict", "N"]]);
    expect(log.lines.some((l) => l.level === "error")).toBe(true);
  });
});

describe("startRetentionWorker", () => {
  it("runs once at start, then on demand, never overlapping", async () => {
    const first = storeFile();
    addCase("A", "cancelled", { payload: first }, 40);
    const log = captureLog();
    const clock = { t: NOW.getTime() };
    const worker = startRetentionWorker(db, {
      store,
      retentionDays: 30,
      intervalMs: 0,
      now: () => new Date(clock.t),
      log,
    });
    const second = storeFile();
    addCase("B", "result_received", { payload: second }, 5);
    // A notice delivered 100 days before the on-demand runs, and one delivered yesterday.
    const insertSent = db.prepare(
      `INSERT INTO mail_outbox (created_at, kind, recipients, subject, body, state, next_attempt_at, sent_at)
       VALUES (?, 'case.new', '["a@b.example"]', 's', 't', 'sent', ?, ?)`,
    );
    insertSent.run(daysAgo(74), daysAgo(74), daysAgo(74));
    insertSent.run(daysAgo(-25), daysAgo(-25), daysAgo(-25));
    try {
      clock.t += 26 * 24 * 3600_000;
      const [a, b] = await Promise.all([worker.runOnce(), worker.runOnce()]);
      expect(onDisk(first)).toBe(false); // by the start run
      expect(onDisk(second)).toBe(false);
      // The two on-demand runs were serialised: exactly one of them purged B.
      expect(a.purged.length + b.purged.length).toBe(1);
      expect(a.sentMailPruned + b.sentMailPruned).toBe(1);
      expect(db.prepare("SELECT COUNT(*) AS n FROM mail_outbox").get()).toEqual({ n: 1 });
    } finally {
      await worker.stop();
    }
    expect(purgedRows().map((p) => p.caseId)).toEqual(["A", "B"]);
    expect(verifyAudit(db)).toMatchObject({ ok: true, entries: 2 });
  });

  it("refuses a bad retentionDays at start", () => {
    expect(() => startRetentionWorker(db, { store, retentionDays: -5, log: captureLog() })).toThrow(RetentionError);
  });
});

/**
 * Retention purge with real SQLite (the real core, mail and drops migrations), server-core's LocalFileStore and real
 * files in a temp folder. Time is passed in; nothing waits on timers.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuditEntry, iterateAudit } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import type { Db } from "../src/db/db.js";
import type { Logger } from "../src/log.js";
import { RetentionError } from "../src/retention/errors.js";
import { purgeExpiredFiles } from "../src/retention/purge.js";
import { retentionStatus } from "../src/retention/status.js";
import { startRetentionWorker } from "../src/retention/worker.js";
import { LocalFileStore } from "../src/files/store.js";
import { DIALECTS, openTestDb, type TestDb, type TestDialect } from "./helpers/postgres.js";
import { rawAll, rawGet, rawRun } from "./helpers/sql.js";

const NOW = new Date("2026-06-01T00:00:00.000Z");
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 24 * 3600_000).toISOString();

let dir: string;
let db: Db;
let testDb: TestDb;
/** The database kind of the describe block running now (the file runs once per database). */
let dialect: TestDialect = "sqlite";
let store: LocalFileStore;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "sealpost-retention-"));
  store = new LocalFileStore(dir);
  await store.ensure();
  testDb = await openTestDb(dialect);
  db = testDb.db;
  const t = daysAgo(100);
  await rawRun(
    db,
    "INSERT INTO agencies (code, name, email, created_at) VALUES (?, ?, ?, ?)",
    "TEST-COUNTY",
    "測試縣政府",
    "it@county.example",
    t,
  );
  await rawRun(
    db,
    "INSERT INTO agencies (code, name, email, created_at) VALUES (?, ?, ?, ?)",
    "TEST-HH",
    "範例戶政事務所",
    "it@hh.example",
    t,
  );
  await rawRun(
    db,
    "INSERT INTO staff (id, agency, name, email, role, created_at) VALUES (?, ?, ?, ?, 'staff', ?)",
    "S1",
    "TEST-COUNTY",
    "王測試",
    "wang@county.example",
    t,
  );
  await rawRun(
    db,
    "INSERT INTO categories (code, name, purpose, created_at) VALUES (?, ?, ?, ?)",
    "HH-MATCH",
    "戶籍資料比對",
    "test",
    t,
  );
});

afterEach(async () => {
  await testDb.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a real file into the store and registers it in `files`; returns its SHA-256. */
async function storeFile(size = 4096): Promise<string> {
  const bytes = randomBytes(size);
  const sha = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(path.join(store.filesDir, sha), bytes);
  await rawRun(db, "INSERT INTO files (sha256, size, created_at) VALUES (?, ?, ?)", sha, size, daysAgo(60));
  return sha;
}

async function addCase(
  id: string,
  state: string,
  files: { payload?: string; result?: string },
  endedDaysAgo: number | null,
): Promise<void> {
  await rawRun(
    db,
    `INSERT INTO cases (id, state, category, sender_agency, sender_staff, receiving_agency, record_count, upload_no,
       payload_sha256, payload_size, result_sha256, result_size, created_at, updated_at, ended_at)
     VALUES (?, ?, 'HH-MATCH', 'TEST-COUNTY', 'S1', 'TEST-HH', 10, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
const purgedAt = async (sha: string) =>
  (await rawGet<{ purged_at: string | null }>(db, "SELECT purged_at FROM files WHERE sha256 = ?", sha))!.purged_at;
const purgedRows = () =>
  rawAll<{ sha256: string; caseId: string; role: string }>(
    db,
    'SELECT sha256, case_id AS "caseId", role FROM purged_files ORDER BY case_id, role',
  );
async function auditEntries(): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of iterateAudit(db)) out.push(e);
  return out;
}

function captureLog(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

describe.each(DIALECTS)("retention (%s)", (d) => {
  beforeAll(() => {
    dialect = d;
  });

  describe("purgeExpiredFiles", () => {
    it("deletes files of cases ended longer ago than retentionDays and keeps everything else", async () => {
      const aPayload = await storeFile();
      const aResult = await storeFile(1000);
      const bPayload = await storeFile();
      const cPayload = await storeFile(); // ended 10 days ago: within retention
      const dPayload = await storeFile(); // active case
      const shared = await storeFile(); // cancelled case E and active case F share it by content address
      await addCase("A", "result_received", { payload: aPayload, result: aResult }, 40);
      await addCase("B", "cancelled", { payload: bPayload }, 31);
      await addCase("C", "result_received", { payload: cPayload }, 10);
      await addCase("D", "received", { payload: dPayload }, null);
      await addCase("E", "cancelled", { payload: shared }, 40);
      await addCase("F", "sent", { payload: shared }, null);
      await addCase("R", "registered", {}, null);
      await rawRun(
        db,
        `INSERT INTO certificates (id, staff_id, purpose, status, sha256, der, subject, common_name, issuer, serial_hex,
         not_before, not_after, created_at) VALUES ('K1', 'S1', 'sign', 'active', 'k', ?, 's', 'c', 'i', '01', ?, ?, ?)`,
        Buffer.from([0]),
        daysAgo(90),
        daysAgo(-300),
        daysAgo(90),
      );
      await rawRun(
        db,
        `INSERT INTO receipts (case_id, kind, staff_id, cert_id, sha256, statement, signature, created_at)
       VALUES ('A', 'payload', 'S1', 'K1', ?, '{}', 'sig', ?)`,
        aPayload,
        daysAgo(45),
      );
      const before = await rawAll(db, "SELECT * FROM cases ORDER BY id");

      expect(await retentionStatus(db, { retentionDays: 30, now: NOW })).toMatchObject({
        purgedFiles: 0,
        dueFiles: 3,
        dueBytes: 4096 + 1000 + 4096,
      });

      const r = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });

      expect(await retentionStatus(db, { retentionDays: 30, now: NOW })).toMatchObject({
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
        expect(await purgedAt(sha)).not.toBeNull();
      }
      for (const sha of [cPayload, dPayload, shared]) {
        expect(onDisk(sha)).toBe(true);
        expect(await purgedAt(sha)).toBeNull();
      }
      expect(await purgedRows()).toEqual([
        { sha256: aPayload, caseId: "A", role: "payload" },
        { sha256: aResult, caseId: "A", role: "result" },
        { sha256: bPayload, caseId: "B", role: "payload" },
      ]);
      // Case rows (hashes, sizes, states) and receipts are untouched.
      expect(await rawAll(db, "SELECT * FROM cases ORDER BY id")).toEqual(before);
      expect(await rawGet(db, "SELECT sha256 FROM receipts WHERE case_id = 'A'")).toEqual({ sha256: aPayload });
      // One audit entry per purged (file, case), in an intact chain.
      const entries = (await auditEntries()).filter((e) => e.action === "retention.purged");
      expect(entries.map((e) => [e.caseId, e.fileSha256[0], e.detail.role]).sort()).toEqual(
        [
          ["A", aPayload, "payload"],
          ["A", aResult, "result"],
          ["B", bPayload, "payload"],
        ].sort(),
      );
      expect(entries.every((e) => e.actor === "system" && e.detail.retentionDays === 30)).toBe(true);
      expect(await verifyAudit(db)).toMatchObject({ ok: true, entries: 3 });

      // A second run finds nothing more to do; audit and records stay.
      const again = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });
      expect(again.purged).toEqual([]);
      expect(await verifyAudit(db)).toMatchObject({ ok: true, entries: 3 });
    });

    it("keeps a shared file until every case using it has ended past retention, then records it for each", async () => {
      const shared = await storeFile();
      await addCase("G", "cancelled", { payload: shared }, 40);
      await addCase("H", "result_received", { result: shared }, 10);

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
      expect((await purgedRows()).map((p) => p.caseId)).toEqual(["G", "H"]);
    });

    it("purges at the next run with retentionDays 0, and rejects a negative or non-numeric retentionDays", async () => {
      const sha = await storeFile();
      await addCase("A", "result_received", { payload: sha }, 0);
      await expect(purgeExpiredFiles(db, { store, retentionDays: -1, now: NOW })).rejects.toBeInstanceOf(
        RetentionError,
      );
      await expect(purgeExpiredFiles(db, { store, retentionDays: Number.NaN, now: NOW })).rejects.toMatchObject({
        code: "BAD_CONFIG",
      });
      expect(onDisk(sha)).toBe(true);
      expect((await purgeExpiredFiles(db, { store, retentionDays: 0, now: NOW })).purged).toHaveLength(1);
      expect(onDisk(sha)).toBe(false);
    });

    it("records a file already gone from disk (crash between delete and record)", async () => {
      const sha = await storeFile();
      await addCase("A", "cancelled", { payload: sha }, 40);
      await store.remove(sha); // the previous run deleted it, then the process died
      const r = await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW });
      expect(r.purged.map((p) => p.sha256)).toEqual([sha]);
      expect(await purgedAt(sha)).not.toBeNull();
    });

    it("reports, logs and leaves unrecorded a file the store cannot delete; the next run retries", async () => {
      const sha = await storeFile();
      await addCase("A", "cancelled", { payload: sha }, 40);
      const log = captureLog();
      const broken = {
        remove: async () => {
          throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
        },
      };
      const r = await purgeExpiredFiles(db, { store: broken, retentionDays: 30, now: NOW, log });
      expect(r.purged).toEqual([]);
      expect(r.failed).toEqual([{ sha256: sha, error: "EACCES: permission denied" }]);
      expect(await purgedAt(sha)).toBeNull();
      expect(log.lines.filter((l) => l.level === "error").map((l) => l.fields?.sha256)).toEqual([sha]);
      expect((await purgeExpiredFiles(db, { store, retentionDays: 30, now: NOW })).purged).toHaveLength(1);
      expect(onDisk(sha)).toBe(false);
    });

    it("detects a case taking the file up during its deletion: audited conflict, not recorded as purged", async () => {
      const sha = await storeFile();
      await addCase("A", "cancelled", { payload: sha }, 40);
      const log = captureLog();
      // While the file is being removed, an identical upload makes it a new active case's payload.
      const racing = {
        remove: async (s: string) => {
          await addCase("N", "sent", { payload: s }, null);
          await store.remove(s);
        },
      };
      const r = await purgeExpiredFiles(db, { store: racing, retentionDays: 30, now: NOW, log });
      expect(r.purged).toEqual([]);
      expect(r.failed.map((f) => f.sha256)).toEqual([sha]);
      expect(r.failed[0]!.error).toMatch(/case N/);
      expect(await purgedAt(sha)).toBeNull();
      expect((await auditEntries()).map((e) => [e.action, e.caseId])).toEqual([["retention.purge_conflict", "N"]]);
      expect(log.lines.some((l) => l.level === "error")).toBe(true);
    });
  });

  describe("startRetentionWorker", () => {
    it("runs once at start, then on demand, never overlapping", async () => {
      const first = await storeFile();
      await addCase("A", "cancelled", { payload: first }, 40);
      const log = captureLog();
      const clock = { t: NOW.getTime() };
      const worker = startRetentionWorker(db, {
        store,
        retentionDays: 30,
        intervalMs: 0,
        now: () => new Date(clock.t),
        log,
      });
      const second = await storeFile();
      await addCase("B", "result_received", { payload: second }, 5);
      // A notice delivered 100 days before the on-demand runs, and one delivered yesterday.
      const insertSent = (t: string) =>
        rawRun(
          db,
          `INSERT INTO mail_outbox (created_at, kind, recipients, subject, body, state, next_attempt_at, sent_at)
       VALUES (?, 'case.new', '["a@b.example"]', 's', 't', 'sent', ?, ?)`,
          t,
          t,
          t,
        );
      await insertSent(daysAgo(74));
      await insertSent(daysAgo(-25));
      try {
        clock.t += 26 * 24 * 3600_000;
        const [a, b] = await Promise.all([worker.runOnce(), worker.runOnce()]);
        expect(onDisk(first)).toBe(false); // by the start run
        expect(onDisk(second)).toBe(false);
        // The two on-demand runs were serialised: exactly one of them purged B.
        expect(a.purged.length + b.purged.length).toBe(1);
        expect(a.sentMailPruned + b.sentMailPruned).toBe(1);
        expect(await rawGet(db, "SELECT COUNT(*) AS n FROM mail_outbox")).toEqual({ n: 1 });
      } finally {
        await worker.stop();
      }
      expect((await purgedRows()).map((p) => p.caseId)).toEqual(["A", "B"]);
      expect(await verifyAudit(db)).toMatchObject({ ok: true, entries: 2 });
    });

    it("refuses a bad retentionDays at start", async () => {
      expect(() => startRetentionWorker(db, { store, retentionDays: -5, log: captureLog() })).toThrow(RetentionError);
    });
  });
});

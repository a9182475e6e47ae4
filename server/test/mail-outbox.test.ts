/**
 * The mail outbox against a real SMTP server (smtp-server on a loopback port) and a real SQLite database.
 * Time is driven through the worker's injected clock and drainOnce(); nothing waits on timers.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuditEntry, iterateAudit } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import type { Db } from "../src/db/db.js";
import { openDb } from "../src/db/open.js";
import type { Logger } from "../src/log.js";
import { backoffDelayMs } from "../src/mail/backoff.js";
import { MailError } from "../src/mail/errors.js";
import { enqueueMail, getOutboxEntry, mailStatus, pruneSentMail, requeueFailedMail } from "../src/mail/outbox.js";
import { renderDropFailingMail, renderNewCaseMail, renderProcessedMail } from "../src/mail/templates.js";
import { type MailAuditEntry, type MailWorkerConfig, startMailWorker } from "../src/mail/worker.js";
import { createTestDatabase, DIALECTS, openTestDb, type TestDialect } from "./helpers/postgres.js";

// ---------------------------------------------------------------------------------------------------------------
// A real SMTP server with switchable failure modes, and a minimal MIME reader (headers, RFC 2047 words, body).

type Mode = "ok" | "rcpt451" | "rcpt550" | "data451" | "hang";

interface Received {
  /** The session ran over TLS (STARTTLS). */
  secure: boolean;
  from: string;
  /** Header lines as sent (unfolded, not decoded). */
  rawHeaders: Map<string, string>;
  rcptTo: string[];
  headers: Map<string, string>;
  body: string;
}

interface SmtpHarness {
  port: number;
  mode: Mode;
  received: Received[];
  /** Addresses answered 550 whatever the mode. */
  refuse: Set<string>;
  /** RCPT commands seen, including refused ones. */
  rcptCalls: number;
  /** Messages whose DATA fully arrived, including refused and unanswered ones. */
  dataReceived: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` (default: a free port); with `tls`, offers STARTTLS with that key and certificate. */
async function startSmtp(port = 0, tls?: { key: string; cert: string }): Promise<SmtpHarness> {
  const h: SmtpHarness = {
    port: 0,
    mode: "ok",
    received: [],
    refuse: new Set(),
    rcptCalls: 0,
    dataReceived: 0,
    close: async () => {},
  };
  const refuse = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    ...(tls ? { key: tls.key, cert: tls.cert } : { disabledCommands: ["STARTTLS"] }),
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, cb) {
      h.rcptCalls++;
      if (h.refuse.has(address.address)) return cb(refuse(550, "No such user here"));
      if (h.mode === "rcpt451") return cb(refuse(451, "Mailbox temporarily unavailable, try again later"));
      if (h.mode === "rcpt550") return cb(refuse(550, "No such user here"));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        h.dataReceived++;
        if (h.mode === "hang") return; // never answer: the client is stuck in DATA
        if (h.mode === "data451") return cb(refuse(451, "Local error in processing, try later"));
        h.received.push({
          secure: session.secure,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          ...parseMessage(Buffer.concat(chunks).toString("latin1")),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  h.port = (server.server.address() as AddressInfo).port;
  h.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return h;
}

function decodeWords(value: string): string {
  // Adjacent encoded words separated only by whitespace are joined (RFC 2047 section 6.2).
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, "$1")
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, data: string) => {
      expect(charset.toLowerCase()).toBe("utf-8");
      const bytes =
        enc.toUpperCase() === "B"
          ? Buffer.from(data, "base64")
          : Buffer.from(
              data
                .replace(/_/g, " ")
                .replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              "latin1",
            );
      return bytes.toString("utf8");
    });
}

function parseMessage(raw: string): { rawHeaders: Map<string, string>; headers: Map<string, string>; body: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const headers = new Map<string, string>();
  const rawHeaders = new Map<string, string>();
  for (const line of head.split("\r\n")) {
    const i = line.indexOf(":");
    rawHeaders.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    headers.set(line.slice(0, i).toLowerCase(), decodeWords(line.slice(i + 1).trim()));
  }
  const rawBody = raw.slice(split + 4);
  const cte = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  let bytes: Buffer;
  if (cte === "base64") bytes = Buffer.from(rawBody.replace(/\s+/g, ""), "base64");
  else if (cte === "quoted-printable")
    bytes = Buffer.from(
      rawBody
        .replace(/=\r\n/g, "")
        .replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      "latin1",
    );
  else bytes = Buffer.from(rawBody, "latin1");
  return { rawHeaders, headers, body: bytes.toString("utf8") };
}

// ---------------------------------------------------------------------------------------------------------------

interface LogLine {
  level: "info" | "warn" | "error";
  msg: string;
  fields?: Record<string, unknown>;
}

function captureLog(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

/** The database kind of the describe block running now (the whole file runs once per database). */
let dialect: TestDialect = "sqlite";
const opened: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of opened.splice(0)) await close();
});

async function freshDb(): Promise<Db> {
  const t = await openTestDb(dialect);
  opened.push(() => t.close());
  return t.db;
}

/** A migrated database the way a data folder holds it (for a second process to open with openDb). */
async function dataFolderDb(): Promise<{ db: Db; dir: string; database: object | undefined; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealpost-mail-"));
  const pg = dialect === "postgres" ? await createTestDatabase() : undefined;
  const db = await openDb(dir, pg?.config, { mustExist: false });
  return {
    db,
    dir,
    database: pg?.config,
    async close() {
      await db.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function auditEntries(db: Db): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of iterateAudit(db)) out.push(e);
  return out;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Polls `done` every 20 ms (no timing assertion: fails only after 30 s, with `why()`). */
async function waitFor(done: () => boolean, why: () => string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (done()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(why());
}

const T0 = new Date("2026-03-02T01:00:00.000Z");
const caseInfo = {
  caseId: "C-20260302-0001",
  category: "戶籍資料比對",
  senderAgency: "測試縣政府",
  receivingAgency: "範例戶政事務所",
  recordCount: 1234,
  uploadNo: "U-0001",
};
const newCase = renderNewCaseMail(caseInfo);

let smtp: SmtpHarness;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp.close();
});
beforeEach(() => {
  smtp.mode = "ok";
  smtp.received.length = 0;
  smtp.rcptCalls = 0;
  smtp.dataReceived = 0;
  smtp.refuse.clear();
});

async function setup(overrides: Partial<MailWorkerConfig> = {}) {
  const db = await freshDb();
  const clock = { t: T0.getTime() };
  const audit: MailAuditEntry[] = [];
  const failures: number[] = [];
  const log = captureLog();
  const config: MailWorkerConfig = {
    smtp: { host: "127.0.0.1", port: smtp.port, from: "sealpost 通知 <noreply@sealpost.example>", ignoreTLS: true },
    pollMs: 0,
    maxAttempts: 5,
    backoffBaseMs: 60_000,
    now: () => new Date(clock.t),
    random: () => 0.5,
    ...overrides,
  };
  const start = () =>
    startMailWorker(db, config, log, { audit: (e) => void audit.push(e), onFailure: (e) => void failures.push(e.id) });
  return { db, clock, audit, failures, log, config, start };
}

describe.each(DIALECTS)("mail outbox (%s)", (d) => {
  beforeAll(() => {
    dialect = d;
  });

  describe("enqueueMail", () => {
    it("inserts one queued row, due now, and nothing else", async () => {
      const db = await freshDb();
      const id = await enqueueMail(
        db,
        { to: ["staff.a@agency.example"], ...newCase, kind: "case.new", caseId: "C-1" },
        T0,
      );
      const row = await getOutboxEntry(db, id);
      expect(row).toMatchObject({
        state: "queued",
        attempts: 0,
        kind: "case.new",
        caseId: "C-1",
        recipients: ["staff.a@agency.example"],
        nextAttemptAt: T0.toISOString(),
      });
      expect((await mailStatus(db)).counts).toEqual({ queued: 1, sending: 0, sent: 0, failed: 0 });
    });

    it("joins the caller's transaction: a rolled-back change leaves no notice", async () => {
      const db = await freshDb();
      await expect(
        db.tx(async (uow) => {
          await uow.mail.enqueue({ to: ["staff.a@agency.example"], subject: "s", text: "t", kind: "case.new" }, T0);
          throw new Error("the case change failed");
        }),
      ).rejects.toThrow("the case change failed");
      expect((await mailStatus(db)).counts.queued).toBe(0);
    });

    it.each([
      { name: "no recipients", to: [], code: "NO_RECIPIENTS" },
      { name: "malformed address", to: ["not-an-address"], code: "BAD_RECIPIENT" },
      { name: "header injection in address", to: ["a@b.example\r\nBcc: x@evil.example"], code: "BAD_RECIPIENT" },
      { name: "second recipient smuggled", to: ["a@b.example,c@d.example"], code: "BAD_RECIPIENT" },
    ])("rejects $name with $code", async ({ to, code }) => {
      const db = await freshDb();
      let caught: unknown;
      try {
        await enqueueMail(db, { to, subject: "s", text: "t", kind: "case.new" });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(MailError);
      expect((caught as MailError).code).toBe(code);
      expect((await mailStatus(db)).counts.queued).toBe(0);
    });

    it("rejects a subject with a line break", async () => {
      const db = await freshDb();
      await expect(
        enqueueMail(db, { to: ["a@b.example"], subject: "x\r\nBcc: y@z.example", text: "", kind: "k" }),
      ).rejects.toThrow(MailError);
    });
  });

  describe("backoffDelayMs", () => {
    it("grows from attempt to attempt for any jitter, and respects the cap", async () => {
      const policy = { baseMs: 1000, maxMs: 64_000 };
      for (const [lo, hi] of [
        [0, 0.999],
        [0.999, 0],
        [0.3, 0.3],
      ] as const) {
        for (let n = 1; n < 7; n++) {
          expect(backoffDelayMs(n + 1, policy, () => hi)).toBeGreaterThanOrEqual(backoffDelayMs(n, policy, () => lo));
        }
      }
      expect(backoffDelayMs(1, policy, () => 0)).toBe(500);
      expect(backoffDelayMs(1, policy, () => 0.999)).toBe(1000);
      expect(backoffDelayMs(30, policy, () => 0.999)).toBeLessThanOrEqual(64_000);
    });
  });

  describe("mail worker against a real SMTP server", () => {
    it("delivers to the right recipients with a correctly encoded Chinese subject and UTF-8 body", async () => {
      const { db, start, audit } = await setup();
      const id = await enqueueMail(
        db,
        {
          to: ["staff.a@agency.example", "staff.b@agency.example"],
          ...newCase,
          kind: "case.new",
          caseId: "C-20260302-0001",
        },
        T0,
      );
      const worker = start();
      try {
        expect(await worker.drainOnce()).toBe(1);
      } finally {
        await worker.stop();
      }
      expect(smtp.received).toHaveLength(1);
      const m = smtp.received[0]!;
      expect(m.from).toBe("noreply@sealpost.example");
      expect(m.rcptTo.sort()).toEqual(["staff.a@agency.example", "staff.b@agency.example"]);
      // On the wire the subject is 7-bit encoded words; decoded it is the exact rendered subject.
      expect(m.rawHeaders.get("subject")).toMatch(/^=\?UTF-8\?[BQ]\?/i);
      expect(m.rawHeaders.get("subject")).toMatch(/^[\x20-\x7e]+$/);
      expect(m.headers.get("subject")).toBe(newCase.subject);
      expect(m.headers.get("subject")).toContain("新案件 C-20260302-0001");
      expect(m.headers.get("from")).toBe("sealpost 通知 <noreply@sealpost.example>");
      expect(m.headers.get("x-sealpost-case")).toBe("C-20260302-0001");
      expect(m.headers.get("content-type")).toMatch(/charset=utf-8/i);
      expect(m.body.replace(/\r\n/g, "\n")).toBe(newCase.text);
      expect(await getOutboxEntry(db, id)).toMatchObject({ state: "sent", attempts: 0, sentAt: T0.toISOString() });
      expect(audit.map((a) => a.action)).toEqual(["mail.sent"]);
      expect(audit[0]).toMatchObject({ actor: "system", caseId: "C-20260302-0001", detail: { mailId: id } });
    });

    it("delivers every template with its subject decoded exactly and its body intact", async () => {
      const { db, start } = await setup();
      const mails = [
        renderNewCaseMail({ ...caseInfo, publicUrl: "https://sealpost.test.example" }),
        renderProcessedMail(caseInfo),
        renderDropFailingMail({
          name: "county-outbox",
          consecutiveFailures: 4,
          lastError: "timed out",
          lastSuccessAt: null,
        }),
      ];
      for (const m of mails) await enqueueMail(db, { to: ["ops@agency.example"], ...m, kind: "test" }, T0);
      const worker = start();
      try {
        expect(await worker.drainOnce()).toBe(3);
      } finally {
        await worker.stop();
      }
      expect(smtp.received.map((r) => r.headers.get("subject"))).toEqual(mails.map((m) => m.subject));
      expect(smtp.received.map((r) => r.body.replace(/\r\n/g, "\n"))).toEqual(mails.map((m) => m.text));
    });

    it("retries an SMTP outage (451 to RCPT, then to DATA, then connection refused) with growing backoff, then delivers exactly once", async () => {
      const { db, start, clock, audit, log } = await setup();
      const id = await enqueueMail(
        db,
        { to: ["staff.a@agency.example"], ...newCase, kind: "case.new", caseId: "C-2" },
        T0,
      );
      const worker = start();
      const gaps: number[] = [];
      try {
        smtp.mode = "rcpt451";
        expect(await worker.drainOnce()).toBe(0);
        let row = (await getOutboxEntry(db, id))!;
        expect(row).toMatchObject({ state: "queued", attempts: 1 });
        expect(row.lastError).toMatch(/451/);
        gaps.push(Date.parse(row.nextAttemptAt) - clock.t);

        // Not due yet: a pass at the same instant does not touch the SMTP server.
        const calls = smtp.rcptCalls;
        expect(await worker.drainOnce()).toBe(0);
        expect(smtp.rcptCalls).toBe(calls);
        expect((await getOutboxEntry(db, id))!.attempts).toBe(1);

        smtp.mode = "data451";
        clock.t = Date.parse(row.nextAttemptAt);
        expect(await worker.drainOnce()).toBe(0);
        row = (await getOutboxEntry(db, id))!;
        expect(row).toMatchObject({ state: "queued", attempts: 2 });
        expect(row.lastError).toMatch(/451/);
        gaps.push(Date.parse(row.nextAttemptAt) - clock.t);

        // Server gone: connection refused on the same port.
        await smtp.close();
        clock.t = Date.parse(row.nextAttemptAt);
        expect(await worker.drainOnce()).toBe(0);
        row = (await getOutboxEntry(db, id))!;
        expect(row).toMatchObject({ state: "queued", attempts: 3 });
        expect(row.lastError).toMatch(/ECONNREFUSED|connect/i);
        gaps.push(Date.parse(row.nextAttemptAt) - clock.t);
      } finally {
        await worker.stop();
      }

      // Recovery: a new server on the same port, then the notice goes out once.
      const port = smtp.port;
      smtp = await startSmtp(port);
      const worker2 = startMailWorker(db, setupConfig(port, clock), log, { audit: (e) => void audit.push(e) });
      try {
        clock.t = Date.parse((await getOutboxEntry(db, id))!.nextAttemptAt);
        expect(await worker2.drainOnce()).toBe(1);
        clock.t += 24 * 3600_000;
        expect(await worker2.drainOnce()).toBe(0);
      } finally {
        await worker2.stop();
      }
      expect(gaps).toEqual([...gaps].sort((a, b) => a - b));
      expect(gaps[0]).toBeLessThan(gaps[1]!);
      expect(gaps[1]).toBeLessThan(gaps[2]!);
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.headers.get("subject")).toBe(newCase.subject);
      expect(await getOutboxEntry(db, id)).toMatchObject({ state: "sent", attempts: 3 });
      expect(audit.map((a) => a.action)).toEqual([
        "mail.attempt_failed",
        "mail.attempt_failed",
        "mail.attempt_failed",
        "mail.sent",
      ]);
      expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(3);
      expect(JSON.stringify(log.lines)).not.toContain("資料已加密"); // bodies never logged
    });

    it("marks a notice failed after maxAttempts: visible in mailStatus, audit, log and onFailure; requeue sends it", async () => {
      const { db, start, clock, audit, failures, log } = await setup({ maxAttempts: 3 });
      const id = await enqueueMail(
        db,
        { to: ["staff.a@agency.example"], ...newCase, kind: "case.new", caseId: "C-3" },
        T0,
      );
      const worker = start();
      try {
        smtp.mode = "rcpt451";
        for (let i = 0; i < 3; i++) {
          clock.t = Date.parse((await getOutboxEntry(db, id))!.nextAttemptAt);
          expect(await worker.drainOnce()).toBe(0);
        }
        const row = (await getOutboxEntry(db, id))!;
        expect(row).toMatchObject({ state: "failed", attempts: 3 });
        // Failed rows are never picked up again.
        smtp.mode = "ok";
        clock.t += 30 * 24 * 3600_000;
        expect(await worker.drainOnce()).toBe(0);
        expect(smtp.received).toHaveLength(0);

        const status = await mailStatus(db);
        expect(status.counts).toEqual({ queued: 0, sending: 0, sent: 0, failed: 1 });
        expect(status.oldestQueued).toBeNull();
        expect(status.lastErrors[0]).toMatchObject({ id, state: "failed", attempts: 3, caseId: "C-3" });
        expect(status.lastErrors[0]!.lastError).toMatch(/451/);
        expect(audit.map((a) => a.action)).toEqual(["mail.attempt_failed", "mail.attempt_failed", "mail.failed"]);
        expect(audit[2]!.detail).toMatchObject({ attempts: 3, permanent: false, nextAttemptAt: null });
        expect(failures).toEqual([id]);
        expect(log.lines.filter((l) => l.level === "error").map((l) => l.fields?.mailId)).toEqual([id]);

        // An administrator requeues it after the fix: delivered.
        expect(await requeueFailedMail(db, [id], new Date(clock.t))).toBe(1);
        expect(await worker.drainOnce()).toBe(1);
        expect(smtp.received).toHaveLength(1);
      } finally {
        await worker.stop();
      }
    });

    it("fails at once on a permanent refusal (550), written to the real hash-chained audit log by default", async () => {
      const db = await freshDb();
      const log = captureLog();
      const id = await enqueueMail(
        db,
        { to: ["gone@agency.example"], ...newCase, kind: "case.new", caseId: "C-5" },
        T0,
      );
      const worker = startMailWorker(db, setupConfig(smtp.port, { t: T0.getTime() }), log);
      try {
        smtp.mode = "rcpt550";
        expect(await worker.drainOnce()).toBe(0);
      } finally {
        await worker.stop();
      }
      expect(await getOutboxEntry(db, id)).toMatchObject({ state: "failed", attempts: 1 });
      const entries = await auditEntries(db);
      expect(entries.map((e) => [e.action, e.actor, e.caseId])).toEqual([["mail.failed", "system", "C-5"]]);
      expect(entries[0]!.detail).toMatchObject({ mailId: id, permanent: true, attempts: 1 });
      expect(String(entries[0]!.detail.error)).toMatch(/550/);
      expect((await verifyAudit(db)).ok).toBe(true);
      expect(log.lines.filter((l) => l.level === "error")).toHaveLength(1);
    });

    it("reclaims a notice left in 'sending' when the sending process is killed mid-DATA, and delivers it", async () => {
      const folder = await dataFolderDb();
      const { db } = folder;
      const id = await enqueueMail(db, { to: ["staff.a@agency.example"], ...newCase, kind: "case.new", caseId: "C-4" });
      smtp.mode = "hang"; // the server takes the message but never answers the final "."
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          `const { openDb } = await import("./server/src/db/open.ts");
         const { startMailWorker } = await import("./server/src/mail/worker.ts");
         const db = await openDb(process.env.MAIL_TEST_DIR, JSON.parse(process.env.MAIL_TEST_PG) ?? undefined);
         const quiet = { info() {}, warn() {}, error() {} };
         const w = startMailWorker(db, { smtp: { host: "127.0.0.1", port: Number(process.env.MAIL_TEST_PORT),
           from: "noreply@sealpost.example", ignoreTLS: true }, pollMs: 0 }, quiet);
         await w.drainOnce();`,
        ],
        {
          cwd: repoRoot,
          env: {
            ...process.env,
            MAIL_TEST_DIR: folder.dir,
            MAIL_TEST_PG: JSON.stringify(folder.database ?? null),
            MAIL_TEST_PORT: String(smtp.port),
          },
          stdio: "pipe",
        },
      );
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      try {
        await waitFor(
          () => smtp.dataReceived === 1,
          () => `the child never sent DATA: ${stderr}`,
        );
        expect((await getOutboxEntry(db, id))!.state).toBe("sending");
        expect((await mailStatus(db)).counts.sending).toBe(1);
      } finally {
        child.kill("SIGKILL");
        await exited;
      }

      smtp.mode = "ok";
      const audit: MailAuditEntry[] = [];
      const log = captureLog();
      const worker = startMailWorker(db, setupConfig(smtp.port, { t: Date.now() }), log, {
        audit: (e) => void audit.push(e),
      });
      try {
        // Reclaimed at start, before any pass.
        await worker.started;
        expect(await getOutboxEntry(db, id)).toMatchObject({ state: "queued", attempts: 1 });
        expect((await getOutboxEntry(db, id))!.lastError).toMatch(/stopped while sending/);
        expect(audit.map((a) => a.action)).toEqual(["mail.reclaimed"]);
        expect(log.lines.some((l) => l.level === "warn" && l.fields?.mailId === id)).toBe(true);
        expect(await worker.drainOnce()).toBe(1);
      } finally {
        await worker.stop();
        await folder.close();
      }
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.headers.get("message-id")).toMatch(new RegExp(`^<sealpost-mail-${id}\\.`));
    });

    it("fails, instead of requeueing, an interrupted notice that has used up its attempts", async () => {
      const { db, start, audit, failures } = await setup({ maxAttempts: 1 });
      const id = await enqueueMail(db, { to: ["staff.a@agency.example"], ...newCase, kind: "case.new" }, T0);
      expect((await db.tx((uow) => uow.mail.claimNextDue(T0)))?.id).toBe(id);
      const worker = start();
      await worker.started;
      await worker.stop();
      expect(await getOutboxEntry(db, id)).toMatchObject({ state: "failed", attempts: 1 });
      expect(audit.map((a) => a.action)).toEqual(["mail.failed"]);
      expect(failures).toEqual([id]);
    });

    it("delivers to the accepted recipients when one is refused, and records the refusal (warning and audit)", async () => {
      const { db, start, audit, log } = await setup();
      smtp.refuse.add("left@agency.example");
      const id = await enqueueMail(
        db,
        { to: ["staff.a@agency.example", "left@agency.example"], ...newCase, kind: "case.new", caseId: "C-6" },
        T0,
      );
      const worker = start();
      try {
        expect(await worker.drainOnce()).toBe(1);
      } finally {
        await worker.stop();
      }
      expect(smtp.received.map((r) => r.rcptTo)).toEqual([["staff.a@agency.example"]]);
      expect((await getOutboxEntry(db, id))!.state).toBe("sent");
      expect(audit[0]).toMatchObject({
        action: "mail.sent",
        detail: { accepted: ["staff.a@agency.example"], rejected: ["left@agency.example"] },
      });
      expect(log.lines.filter((l) => l.level === "warn").map((l) => l.fields?.rejected)).toEqual([
        ["left@agency.example"],
      ]);
    });

    it("prunes delivered notices older than a date, never queued or failed ones", async () => {
      const { db, start, clock } = await setup({ maxAttempts: 1 });
      const sent = await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "s", text: "t", kind: "k" }, T0);
      const worker = start();
      try {
        expect(await worker.drainOnce()).toBe(1);
        smtp.mode = "rcpt451";
        await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "f", text: "t", kind: "k" }, T0);
        expect(await worker.drainOnce()).toBe(0);
      } finally {
        await worker.stop();
      }
      await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "q", text: "t", kind: "k" }, T0);
      expect(await pruneSentMail(db, T0)).toBe(0); // sent at T0, not before it
      expect(await pruneSentMail(db, new Date(clock.t + 1))).toBe(1);
      expect(await getOutboxEntry(db, sent)).toBeUndefined();
      expect((await mailStatus(db)).counts).toEqual({ queued: 1, sending: 0, sent: 0, failed: 1 });
    });

    it("gives up on a relay that stops answering mid-DATA after timeoutMs, and retries later", async () => {
      const { db, start, clock, config, log, audit } = await setup();
      config.smtp.timeoutMs = 300;
      const id = await enqueueMail(db, { to: ["staff.a@agency.example"], ...newCase, kind: "case.new" }, T0);
      smtp.mode = "hang";
      const worker = start();
      try {
        expect(await worker.drainOnce()).toBe(0);
        const row = (await getOutboxEntry(db, id))!;
        expect(row).toMatchObject({ state: "queued", attempts: 1 });
        expect(row.lastError).toMatch(/timeout|timed out/i);
        smtp.mode = "ok";
        clock.t = Date.parse(row.nextAttemptAt);
        expect(await worker.drainOnce()).toBe(1);
      } finally {
        await worker.stop();
      }
      expect(audit.map((a) => a.action)).toEqual(["mail.attempt_failed", "mail.sent"]);
      expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(1);
    });

    it("still records the outcome when the audit log cannot be written, and says so in the error log", async () => {
      const db = await freshDb();
      const log = captureLog();
      const id = await enqueueMail(db, { to: ["staff.a@agency.example"], ...newCase, kind: "case.new" }, T0);
      const worker = startMailWorker(db, setupConfig(smtp.port, { t: T0.getTime() }), log, {
        audit: () => {
          throw new Error("disk full");
        },
      });
      try {
        expect(await worker.drainOnce()).toBe(1);
      } finally {
        await worker.stop();
      }
      expect((await getOutboxEntry(db, id))!.state).toBe("sent");
      expect(log.lines.filter((l) => l.level === "error").map((l) => l.fields?.error)).toEqual(["disk full"]);
    });

    it("with pollMs set, sends on its own: notices queued before start and while running", async () => {
      const db = await freshDb();
      const log = captureLog();
      await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "before start", text: "1", kind: "k" });
      const worker = startMailWorker(
        db,
        { smtp: { host: "127.0.0.1", port: smtp.port, from: "noreply@sealpost.example", ignoreTLS: true }, pollMs: 25 },
        log,
      );
      try {
        await waitFor(
          () => smtp.received.length === 1,
          () => "the queued notice was not sent at start",
        );
        await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "while running", text: "2", kind: "k" });
        await waitFor(
          () => smtp.received.length === 2,
          () => "the notice queued while running was not sent",
        );
      } finally {
        await worker.stop();
      }
      expect(smtp.received.map((r) => r.headers.get("subject"))).toEqual(["before start", "while running"]);
      expect((await mailStatus(db)).counts).toMatchObject({ queued: 0, sent: 2 });
      // Called again after stop, nothing is sent.
      await enqueueMail(db, { to: ["staff.a@agency.example"], subject: "after stop", text: "3", kind: "k" });
      expect(await worker.drainOnce()).toBe(0);
    });

    it("sends over STARTTLS to a server whose certificate comes from a configured CA, and refuses an unknown one", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "sealpost-smtp-tls-"));
      let tlsSmtp: SmtpHarness | undefined;
      try {
        execFileSync(
          "openssl",
          [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Test Mail Relay",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            path.join(dir, "key.pem"),
            "-out",
            path.join(dir, "cert.pem"),
          ],
          { stdio: "pipe" },
        );
        const cert = readFileSync(path.join(dir, "cert.pem"), "utf8");
        tlsSmtp = await startSmtp(0, { key: readFileSync(path.join(dir, "key.pem"), "utf8"), cert });
        const db = await freshDb();
        const id = await enqueueMail(db, { to: ["staff.a@agency.example"], ...newCase, kind: "case.new" }, T0);
        const clock = { t: T0.getTime() };
        const base = { host: "127.0.0.1", port: tlsSmtp.port, from: "noreply@sealpost.example", requireTLS: true };

        // Without the CA the certificate is not trusted: an attempt failure, never a silent plain-text fallback.
        const untrusted = startMailWorker(db, { ...setupConfig(tlsSmtp.port, clock), smtp: base }, captureLog(), {
          audit: () => {},
        });
        try {
          expect(await untrusted.drainOnce()).toBe(0);
        } finally {
          await untrusted.stop();
        }
        expect(await getOutboxEntry(db, id)).toMatchObject({ state: "queued", attempts: 1 });
        expect((await getOutboxEntry(db, id))!.lastError).toMatch(/certificate/i);
        expect(tlsSmtp.received).toHaveLength(0);

        const trusted = startMailWorker(
          db,
          { ...setupConfig(tlsSmtp.port, clock), smtp: { ...base, ca: cert } },
          captureLog(),
          {
            audit: () => {},
          },
        );
        try {
          clock.t = Date.parse((await getOutboxEntry(db, id))!.nextAttemptAt);
          expect(await trusted.drainOnce()).toBe(1);
        } finally {
          await trusted.stop();
        }
        expect(tlsSmtp.received).toHaveLength(1);
        expect(tlsSmtp.received[0]!.secure).toBe(true);
        expect(tlsSmtp.received[0]!.headers.get("subject")).toBe(newCase.subject);
      } finally {
        await tlsSmtp?.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("rejects unusable settings with BAD_CONFIG", async () => {
      const db = await freshDb();
      const bad =
        (smtpOverride: object, extra: object = {}) =>
        () =>
          startMailWorker(
            db,
            { smtp: { host: "127.0.0.1", port: 25, from: "a@b.example", ...smtpOverride }, pollMs: 0, ...extra },
            captureLog(),
          );
      for (const f of [bad({ host: "" }), bad({ port: 0 }), bad({ from: "" }), bad({}, { backoffBaseMs: 0 })]) {
        expect(f).toThrow(expect.objectContaining({ code: "BAD_CONFIG" }));
      }
    });
  });
});

function setupConfig(port: number, clock: { t: number }): MailWorkerConfig {
  return {
    smtp: { host: "127.0.0.1", port, from: "sealpost 通知 <noreply@sealpost.example>", ignoreTLS: true },
    pollMs: 0,
    maxAttempts: 5,
    backoffBaseMs: 60_000,
    now: () => new Date(clock.t),
    random: () => 0.5,
  };
}

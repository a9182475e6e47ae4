import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import type { TransferProfile } from "@sealpost/protocol";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAudit } from "../src/audit/verify.js";
import { loadConfig } from "../src/config.js";
import type { Db } from "../src/db/db.js";
import { openDb } from "../src/db/open.js";
import { Api, freshDataDir, keyEntry, REPO, registerFixtures } from "./helpers.js";
import { TEST_DB } from "./helpers/postgres.js";
import { rawAll } from "./helpers/sql.js";

/**
 * Two relay instances (child processes) on one PostgreSQL database and one data folder; one is killed with SIGKILL
 * in the middle of an upload, then the other in the middle of a job (the mail worker, stuck in an SMTP DATA
 * exchange): nothing is lost (the upload goes through again at the live instance, the notice is delivered by the
 * instance that takes the job over) and nothing is done twice (one stored file, one upload in the audit chain, the
 * notice accepted once by the SMTP server).
 */

const BIN = join(REPO, "server/bin/sealpost-server.js");
/** Lease times in this test (config uploadLease and jobs): a killed instance's leases run out after 2 s. */
const TTL_MS = 2000;

interface Instance {
  child: ChildProcess;
  url: string;
}

describe.runIf(TEST_DB === "postgres")("one of two instances killed", () => {
  let data: Awaited<ReturnType<typeof freshDataDir>>;
  let work: string;
  let db: Db;
  const live = new Set<ChildProcess>();
  /** SMTP: messages accepted (by Subject), DATA exchanges seen, and whether the next DATA hangs unanswered. */
  const smtp = { accepted: [] as string[], dataSeen: 0, hangNext: false, close: async () => {} };

  async function start(): Promise<Instance> {
    const child = spawn(process.execPath, [BIN, "start", "--data", data.dir, "--listen", "127.0.0.1:0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    child.stderr!.resume();
    const rl = createInterface({ input: child.stdout! });
    const [line] = (await once(rl, "line")) as [string];
    const m = /listening on (http:\/\/\S+)/.exec(line);
    if (!m) throw new Error(`unexpected server output: ${line}`);
    return { child, url: m[1]! };
  }

  async function kill(i: Instance): Promise<void> {
    const exited = once(i.child, "exit");
    i.child.kill("SIGKILL");
    await exited;
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    data = await freshDataDir();
    work = mkdtempSync(join(tmpdir(), "sealpost-instances-kill-"));
    const server = new SMTPServer({
      authOptional: true,
      disableReverseLookup: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          smtp.dataSeen++;
          if (smtp.hangNext) {
            smtp.hangNext = false;
            return; // never answered: the sender is stuck until it is killed
          }
          const subject = /^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString("latin1"))?.[1] ?? "";
          smtp.accepted.push(subject);
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.server.address() as AddressInfo).port;
    smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    const cfgPath = join(data.dir, "config.json");
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...JSON.parse(readFileSync(cfgPath, "utf8")),
        smtp: { host: "127.0.0.1", port, secure: false, ignoreTLS: true, from: "sealpost <sealpost@relay.example>" },
        mail: { pollMs: 100, backoffBaseMs: 100 },
        jobs: { ttlMs: TTL_MS, renewMs: 500 },
        uploadLease: { ttlMs: TTL_MS, renewMs: 500 },
      }),
    );
    db = await openDb(data.dir, loadConfig(data.dir).database, { migrate: false });
  });
  afterAll(async () => {
    for (const c of live) c.kill("SIGKILL");
    await db?.close();
    await smtp.close();
    await data?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("killed during an upload and during a mail job: nothing lost, nothing done twice", {
    timeout: 300_000,
  }, async () => {
    const a = await start();
    const b = await start();
    const admin = new Api(a.url);
    await admin.login("ops-wu");
    await registerFixtures(admin);
    const soc = new Api(b.url);
    await soc.login("soc-chen");
    const p = (
      await soc.call<TransferProfile>("POST", "/v1/cases", {
        category: "WELFARE-TAX",
        receivingAgency: "KHH-TAX",
        recordCount: 40000,
        uploadNo: "KILL-1",
      })
    ).body;
    const batch = join(work, "batch.csv");
    const made = spawnSync(process.execPath, [join(REPO, "scripts/make-batch.mjs"), "--bytes", "6M", "-o", batch]);
    expect(made.status).toBe(0);
    const sealed = join(work, "batch.p7m");
    await sealFile(batch, sealed, {
      recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: keyEntry("soc-chen", "sign"),
    });
    const bytes = readFileSync(sealed);

    // 1. Instance A is killed while it writes the upload's temp file.
    const u = new URL(`${a.url}/v1/cases/${p.case.id}/payload`);
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: "PUT",
      headers: {
        authorization: `Bearer ${soc.token}`,
        "content-type": "application/octet-stream",
        "content-length": String(bytes.length),
      },
    });
    req.on("error", () => {});
    req.write(bytes.subarray(0, 2 * 1024 * 1024));
    const tmp = join(data.dir, "tmp");
    await until("the upload's temp file", () =>
      readdirSync(tmp).some((f) => statSync(join(tmp, f), { throwIfNoEntry: false })?.size),
    );
    await kill(a);
    req.destroy();
    const cases = () => rawAll(db, "SELECT state, payload_sha256 FROM cases WHERE id = ?", p.case.id);
    expect(await cases()).toEqual([{ state: "registered", payload_sha256: null }]);

    // The retry at B: refused while A's upload lease lives, accepted once it has run out. The notice that follows
    // ("case.sent") is the job B is killed in: its SMTP DATA is never answered.
    smtp.hangNext = true;
    let r = await soc.call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(bytes));
    for (let i = 0; r.status === 409 && r.body.error.code === "UPLOAD_IN_PROGRESS" && i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      r = await soc.call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(bytes));
    }
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const sha = r.body.payload.sha256 as string;
    expect(await cases()).toEqual([{ state: "sent", payload_sha256: sha }]);

    // 2. B (the only live instance, so the mail job's holder) is killed inside the SMTP exchange.
    await until("the notice's SMTP DATA", () => smtp.dataSeen >= 1);
    const sending = await rawAll(db, "SELECT id, kind FROM mail_outbox WHERE state = 'sending'");
    expect(sending).toHaveLength(1);
    await kill(b);
    expect(smtp.accepted).toEqual([]);

    // A new instance takes the job over once B's lease has run out and delivers the notice, once.
    const c = await start();
    await until("the notice delivered", async () => {
      const rows = await rawAll<{ state: string }>(db, "SELECT state FROM mail_outbox");
      return rows.length > 0 && rows.every((x) => x.state === "sent");
    });
    const outbox = await rawAll<{ kind: string; case_id: string | null; subject: string }>(
      db,
      "SELECT kind, case_id, subject FROM mail_outbox ORDER BY id",
    );
    expect(outbox.filter((m) => m.kind === "case.sent" && m.case_id === p.case.id)).toHaveLength(1);
    // Every notice accepted exactly once by the SMTP server (subjects are RFC 2047 encoded: compare the count).
    expect(smtp.accepted).toHaveLength(outbox.length);
    expect(smtp.dataSeen).toBe(outbox.length + 1);

    // Nothing done twice: one upload in the audit chain, one stored file, no temp file left by the live instances.
    const uploads = await rawAll(
      db,
      "SELECT seq FROM audit_log WHERE action = 'case.upload_payload' AND case_id = ?",
      p.case.id,
    );
    expect(uploads).toHaveLength(1);
    expect(readdirSync(join(data.dir, "files"))).toEqual([sha]);
    expect((await verifyAudit(db)).ok).toBe(true);
    const reclaimed = await rawAll(db, "SELECT seq FROM audit_log WHERE action = 'mail.reclaimed'");
    expect(reclaimed).toHaveLength(1);

    // The round trip goes on at the new instance.
    const tax = new Api(c.url);
    await tax.login("tax-wang");
    const down = await fetch(`${c.url}/v1/cases/${p.case.id}/payload`, {
      headers: { authorization: `Bearer ${tax.token}` },
    });
    expect(down.status).toBe(200);
    expect(Buffer.from(await down.arrayBuffer()).equals(bytes)).toBe(true);
    const stop = once(c.child, "exit");
    c.child.kill("SIGTERM");
    await stop;
  });
});

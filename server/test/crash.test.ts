import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import type { TransferProfile } from "@sealpost/protocol";
import { loadConfig } from "../src/config.js";
import { openDb } from "../src/db/open.js";
import { afterAll, beforeAll, expect, test } from "vitest";
import { TEST_DB } from "./helpers/postgres.js";
import { rawGet } from "./helpers/sql.js";
import { Api, freshDataDir, keyEntry, REPO, registerFixtures } from "./helpers.js";

/**
 * The server killed with SIGKILL in the middle of an upload (the server runs as a child process): after a restart
 * no half case and no partial file are visible, and the upload can be sent again.
 */

const BIN = join(REPO, "server/bin/sealpost-server.js");
let data: Awaited<ReturnType<typeof freshDataDir>>;
let work: string;
let child: ChildProcess | undefined;

async function startChild(): Promise<string> {
  child = spawn(process.execPath, [BIN, "start", "--data", data.dir, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr!.resume();
  const rl = createInterface({ input: child.stdout! });
  const [line] = (await once(rl, "line")) as [string];
  const m = /listening on (http:\/\/\S+)/.exec(line);
  if (!m) throw new Error(`unexpected server output: ${line}`);
  return m[1]!;
}

/** One row from the data folder's database, opened for this query only. */
async function rawGetFrom(dir: string, text: string, ...params: unknown[]): Promise<unknown> {
  const db = await openDb(dir, loadConfig(dir).database, { migrate: false });
  try {
    return await rawGet(db, text, ...params);
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  data = await freshDataDir();
  work = mkdtempSync(join(tmpdir(), "sealpost-crash-"));
});
afterAll(() => {
  child?.kill("SIGKILL");
  data?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Sets fields of the data folder's config.json. */
function configure(fields: Record<string, unknown>): void {
  const cfgPath = join(data.dir, "config.json");
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, "utf8")), ...fields }));
}

/** The upload lease of a killed instance runs out after this long (config uploadLease.ttlMs; default 2 minutes). */
const LEASE_TTL_MS = 3000;

test("SIGKILL during an upload: no half case, no partial file, the upload can be retried", async () => {
  configure({ uploadLease: { ttlMs: LEASE_TTL_MS, renewMs: 1000 } });
  let url = await startChild();
  const admin = new Api(url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  const soc = new Api(url);
  await soc.login("soc-chen");
  const p = (
    await soc.call<TransferProfile>("POST", "/v1/cases", {
      category: "WELFARE-TAX",
      receivingAgency: "KHH-TAX",
      recordCount: 40000,
      uploadNo: "K-1",
    })
  ).body;
  const batch = join(work, "batch.csv");
  expect(spawnSync(process.execPath, [join(REPO, "scripts/make-batch.mjs"), "--bytes", "6M", "-o", batch]).status).toBe(
    0,
  );
  const sealed = join(work, "batch.p7m");
  await sealFile(batch, sealed, {
    recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
    signer: keyEntry("soc-chen", "sign"),
  });
  const bytes = readFileSync(sealed);

  // Send the first 2 MiB of the body, wait until the server is writing its temp file, then kill it.
  const u = new URL(`${url}/v1/cases/${p.case.id}/payload`);
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
  let partial = 0;
  for (let i = 0; i < 200 && partial === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    partial = readdirSync(tmp).reduce((n, f) => n + statSync(join(tmp, f)).size, 0);
  }
  expect(partial).toBeGreaterThan(0);
  child!.kill("SIGKILL");
  await once(child!, "exit");
  req.destroy();

  // What a crash leaves: a partial temp file, nothing in the store, the case still registered.
  expect(readdirSync(tmp).length).toBe(1);
  expect(readdirSync(join(data.dir, "files"))).toEqual([]);
  expect(await rawGetFrom(data.dir, "SELECT state, payload_sha256 FROM cases WHERE id = ?", p.case.id)).toEqual({
    state: "registered",
    payload_sha256: null,
  });

  if (TEST_DB === "postgres") {
    // Several instances may share the store: a start keeps a temp file touched within sweepGraceMs (default 1 hour),
    // since it may be another instance's upload in progress.
    url = await startChild();
    expect(readdirSync(tmp).length).toBe(1);
    child!.kill("SIGTERM");
    await once(child!, "exit");
    configure({ sweepGraceMs: 0 });
  }
  // Restart: the temp file is swept; the retry goes through.
  url = await startChild();
  expect(readdirSync(tmp)).toEqual([]);
  const again = new Api(url, soc.token);
  const shown = await again.call("GET", `/v1/cases/${p.case.id}`);
  expect(shown.body.state).toBe("registered");
  expect(shown.body.payload).toBeUndefined();
  if (TEST_DB === "postgres") {
    // The killed instance's upload lease is in the shared database (a PostgreSQL start cannot tell it from a live
    // instance's): the retry is refused until the lease has run out, then goes through.
    const lease = (await rawGetFrom(
      data.dir,
      "SELECT expires_at FROM job_leases WHERE name = ?",
      `upload:${p.case.id}`,
    )) as { expires_at: string } | undefined;
    if (lease) await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(lease.expires_at) - Date.now()) + 100));
  }
  const r = await again.call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(bytes));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.payload.size).toBe(bytes.length);
  expect(readdirSync(join(data.dir, "files"))).toEqual([r.body.payload.sha256]);
  child!.kill("SIGTERM");
  await once(child!, "exit");
  child = undefined;
});

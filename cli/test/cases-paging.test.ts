import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { initDataDir, type RunningServer, silentLogger, startServer } from "@sealpost/server";
import { afterAll, beforeAll, expect, test } from "vitest";

/**
 * `sealpost cases` paging through the real binary (spawned) against a server on a loopback port: the first page with
 * a note on stderr when more exist, `--all` following the server's cursor to the end, `--json` carrying nextCursor.
 * The registry is set up with the CLI's admin commands; the cases are written straight into the server's SQLite
 * database (registering them through `send` would seal files the test does not need).
 */

const REPO = resolve(import.meta.dirname, "../..");
const PKI = join(REPO, "fixtures/pki");
const BIN = join(REPO, "cli/bin/sealpost.js");
const M = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
const pki = (p: string) => join(PKI, p);
const COUNT = 7;

let work: string;
let server: RunningServer;
const ids: string[] = [];

async function sp(id: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = M.people[id];
  const dir = join(work, "home", id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      server: server.url,
      trust: [pki(M.root.cert)],
      intermediates: [pki(M.intermediate.cert)],
      crls: [pki(M.intermediate.crl), pki(M.root.crl)],
      keystore: pki(p.p12),
    }),
  );
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, SEALPOST_CONFIG: join(dir, "config.json"), SEALPOST_PIN: p.pin },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = (await once(child, "close")) as [number];
  expect(code, `${args.join(" ")}\n${stderr}`).toBe(0);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sealpost-cases-paging-"));
  const admin = M.people["ops-wu"];
  await initDataDir({
    data: join(work, "data"),
    trust: pki(M.root.cert),
    intermediates: pki(M.intermediate.cert),
    crl: [pki(M.intermediate.crl), pki(M.root.crl)],
    adminCert: pki(admin.sign.cert),
    adminName: admin.name,
    adminEmail: admin.email,
    adminAgency: admin.agency,
    log: silentLogger,
  });
  server = await startServer(join(work, "data"), { listen: "127.0.0.1:0", log: silentLogger });
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
  const staff = server.ctx.db.prepare("SELECT id FROM staff WHERE email = ?").get(soc.email) as { id: string };
  const insert = server.ctx.db.prepare(
    `INSERT INTO cases (id, state, category, sender_agency, sender_staff, receiving_agency, record_count, upload_no,
       created_at, updated_at) VALUES (?, 'registered', 'WELFARE-TAX', 'KHH-SOC', ?, 'KHH-TAX', 2, ?, ?, ?)`,
  );
  for (let i = 0; i < COUNT; i++) {
    const id = `C20261130-0000000${i}`;
    const t = new Date(Date.UTC(2026, 10, 30, 1, 0, i)).toISOString();
    insert.run(id, staff.id, `U${i}`, t, t);
    ids.push(id);
  }
  await sp("soc-chen", ["login"]);
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
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

/**
 * The drops ops API over a real HTTP socket (server-core's buildApp, which mounts dropRoutes) driven by the real
 * `sealpost drop ...` commands (cli/src/remote/drops.ts) with a client logged in by signing the server's challenge
 * with the fixture ops staff member's PKCS#12 key. The drop points at a real sshd.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadKeystore, pickKey } from "@sealpost/pki";
import { Command } from "commander";
import type { FastifyInstance } from "fastify";
import { rawAll } from "../../server/test/helpers/sql.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RemoteClient } from "../../cli/src/remote/client.js";
import { registerDropCommands } from "../../cli/src/remote/drops.js";
import { closeContext, createContext } from "../../server/src/app.js";
import { initDataDir } from "../../server/src/commands/init.js";
import type { ServerContext } from "../../server/src/context.js";
import { dropKeyPath } from "../../server/src/drops/keys.js";
import { buildApp } from "../../server/src/http/app.js";
import { silentLogger } from "../../server/src/log.js";
import { createRegistryService } from "../../server/src/registry/service.js";
import { type SshdHandle, startSshd } from "../../server/test/helpers/sshd.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const pkiDir = path.join(repoRoot, "fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pkiDir, "manifest.json"), "utf8"));
const fx = (p: string) => path.join(pkiDir, p);

let sshd: SshdHandle;
let work: string;
let ctx: ServerContext;
let app: FastifyInstance;
let base: string;
let ops: RemoteClient;
let staff: RemoteClient;

async function loginAs(id: string): Promise<RemoteClient> {
  const p = manifest.people[id];
  const ks = await loadKeystore(fx(p.p12), { pin: p.pin });
  const client = new RemoteClient(base);
  await client.login(pickKey(ks, "sign"));
  return client;
}

/** Runs `sealpost <args> --json` through the real commander program; returns the parsed JSON result. */
async function cli(args: string[], client: RemoteClient = ops): Promise<Record<string, unknown>> {
  const program = new Command("sealpost").option("--json").option("--quiet").exitOverride();
  registerDropCommands(program, async () => client);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["--json", ...args], { from: "user" });
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(chunks.join("")) as Record<string, unknown>;
}

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(path.join(tmpdir(), "sealpost-drops-api-"));
  const data = path.join(work, "data");
  await initDataDir({
    data,
    trust: fx(manifest.root.cert),
    intermediates: fx(manifest.intermediate.cert),
    crl: [fx(manifest.root.crl), fx(manifest.intermediate.crl)],
    adminCert: fx(manifest.people["ops-wu"].sign.cert),
    adminEmail: manifest.people["ops-wu"].email,
    adminAgency: "SEALPOST-OPS",
    log: silentLogger,
  });
  ctx = await createContext(data, { log: silentLogger });
  const registry = createRegistryService({ db: ctx.db, clock: ctx.clock, validator: ctx.validator });
  await registry.addAgency(null, {
    code: "KHH-SOC",
    name: manifest.agencies["KHH-SOC"].name,
    email: "x@soc.khh.example",
    allowCidrs: [],
  });
  for (const id of ["ops-liu", "soc-chen"]) {
    const p = manifest.people[id];
    const s = await registry.addStaff(null, { agency: p.agency, name: p.name, email: p.email, role: p.role });
    await registry.addCertificate(null, { staff: s.id, pem: readFileSync(fx(p.sign.cert), "utf8"), purpose: "sign" });
  }
  app = await buildApp(ctx);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  ops = await loginAs("ops-liu");
  staff = await loginAs("soc-chen");
});

afterAll(async () => {
  await app?.close();
  if (ctx) await closeContext(ctx);
  await sshd?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("drops API and CLI", () => {
  test("only ops may use it: 401 without a token, 403 for a staff member", async () => {
    expect((await fetch(`${base}/v1/drops`)).status).toBe(401);
    await expect(staff.call("listDrops")).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  test("add, list, show, run, history, disable; the key is stored 0600 and never returned or logged", async () => {
    const keyFile = path.join(work, "drop.key");
    writeFileSync(keyFile, sshd.clientPrivateKey, { mode: 0o600 });
    const remote = path.join(sshd.remoteDir, "api-out");
    const added = await cli([
      "drop",
      "add",
      "khh-soc-out",
      "--agency",
      "KHH-SOC",
      "--direction",
      "pull",
      "--host",
      sshd.host,
      "--port",
      String(sshd.port),
      "--user",
      sshd.username,
      "--key-file",
      keyFile,
      "--remote-dir",
      remote,
      "--host-key",
      sshd.hostKeyFingerprint,
      "--schedule",
      "0 3 * * *",
      "--notify",
      "duty@ops.sealpost.example",
      "--retry-base-ms",
      "50",
    ]);
    expect(added.ok).toBe(true);
    const drop = added.drop as Record<string, unknown>;
    expect(drop).toMatchObject({ name: "khh-soc-out", direction: "pull", enabled: true, health: "ok" });
    expect(JSON.stringify(added)).not.toContain("PRIVATE KEY");
    const stored = dropKeyPath(ctx.dataDir, "khh-soc-out");
    expect(readFileSync(stored, "utf8").trim()).toBe(sshd.clientPrivateKey.trim());
    expect(statSync(stored).mode & 0o777).toBe(0o600);
    const keyBody = sshd.clientPrivateKey.split("\n")[1]!;
    const audit = (await rawAll(ctx.db, "SELECT detail FROM audit_log WHERE action = 'drop.create'")) as {
      detail: string;
    }[];
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail).not.toContain(keyBody);

    const list = await cli(["drop", "list"]);
    expect((list.drops as { name: string }[]).map((d) => d.name)).toEqual(["khh-soc-out"]);
    const shown = await cli(["drop", "show", "khh-soc-out"]);
    expect(JSON.stringify(shown)).not.toContain(keyBody);
    expect((shown.drop as { lastRun: unknown }).lastRun).toBeNull();

    // The remote folder does not exist yet: the run fails (SFTP_IO), retried up to maxAttempts (3).
    const failed = await cli(["drop", "run", "khh-soc-out", "--wait"]);
    expect((failed.run as { status: string; attempts: number }).status).toBe("failed");
    expect((failed.run as { attempts: number }).attempts).toBe(3);
    expect(process.exitCode).toBe(10);
    process.exitCode = undefined;
    mkdirSync(remote);
    const ok = await cli(["drop", "run", "khh-soc-out", "--wait"]);
    expect(ok.run).toMatchObject({ status: "ok", files: 0, trigger: "manual" });

    const history = await cli(["drop", "history", "khh-soc-out"]);
    expect((history.runs as { status: string }[]).map((r) => r.status)).toEqual(["ok", "failed"]);
    expect((await cli(["drop", "show", "khh-soc-out"])).drop).toMatchObject({ health: "ok", consecutiveFailures: 0 });

    const disabled = await cli(["drop", "disable", "khh-soc-out"]);
    expect((disabled.drop as { enabled: boolean }).enabled).toBe(false);
    const enabled = await cli(["drop", "enable", "khh-soc-out"]);
    expect((enabled.drop as { enabled: boolean }).enabled).toBe(true);
    const actions = (await rawAll(ctx.db, "SELECT action FROM audit_log WHERE action LIKE 'drop.%' ORDER BY seq")) as {
      action: string;
    }[];
    expect(actions.map((a) => a.action)).toEqual(["drop.create", "drop.run.failed", "drop.disable", "drop.enable"]);
  });

  test("refusals: duplicate name 409, bad fingerprint 400, unknown drop 404", async () => {
    const body = {
      name: "khh-soc-out",
      agency: "KHH-SOC",
      direction: "push" as const,
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.clientPrivateKey,
      remoteDir: "/tmp",
      hostKeySha256: sshd.hostKeyFingerprint,
      schedule: "0 3 * * *",
    };
    await expect(ops.call("addDrop", { body })).rejects.toMatchObject({ code: "CONFLICT", status: 409 });
    await expect(
      ops.call("addDrop", { body: { ...body, name: "other", hostKeySha256: "MD5:aa:bb" } }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(
      ops.call("addDrop", { body: { ...body, name: "other", schedule: "every day" } }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(
      ops.call("addDrop", { body: { ...body, name: "other", privateKey: "not a key" } }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(ops.call("dropHistory", { params: { name: "nope" } })).rejects.toMatchObject({
      code: "NOT_FOUND",
      status: 404,
    });
  });
});

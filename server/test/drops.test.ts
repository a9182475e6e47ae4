/**
 * SFTP drops against a real OpenSSH server (helpers/sshd.ts) and server-core's real registration path: a data
 * folder made by initDataDir, the registry filled with the fixture PKI, pulled files registered through
 * registerPayloadFromFile (recipient check by @sealpost/cms inspect) and pushed files read from the real file store.
 * Sealed files are made with `openssl cms -encrypt` against the fixture encryption certificates.
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { rawAll, rawGet, rawRun } from "./helpers/sql.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sealFile } from "@sealpost/cms";
import { loadKeystore, parseCertificate, pickKey } from "@sealpost/pki";
import { closeContext, createContext } from "../src/app.js";
import { initDataDir } from "../src/commands/init.js";
import type { ServerContext } from "../src/context.js";
import { type CaseService, createCaseService } from "../src/cases/service.js";
import type { Actor } from "../src/context.js";
import { corePayloadSink } from "../src/drops/core-sink.js";
import { hostKeyFingerprint } from "../src/drops/fingerprint.js";
import { coreDeliverySource } from "../src/drops/ports.js";
import type { DropFileEvent } from "../src/drops/run-context.js";
import { OVERSIZED_HASH_BYTES } from "../src/drops/pull.js";
import { DropService } from "../src/drops/service.js";
import type { DropInput, DropRun } from "../src/drops/types.js";
import { silentLogger } from "../src/log.js";
import { createRegistryService } from "../src/registry/service.js";
import { signedReceipt } from "./helpers.js";
import { type SshdHandle, startSshd } from "./helpers/sshd.js";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const pkiDir = path.join(repoRoot, "fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pkiDir, "manifest.json"), "utf8")) as {
  root: { cert: string; crl: string };
  intermediate: { cert: string; crl: string };
  agencies: Record<string, { name: string; email: string }>;
  people: Record<
    string,
    {
      name: string;
      agency: string;
      role: string;
      email: string;
      sign: { cert: string };
      encrypt: { cert: string };
      p12: string;
      pin: string;
    }
  >;
};
const fx = (p: string) => path.join(pkiDir, p);
const person = (id: string) => manifest.people[id]!;

let sshd: SshdHandle;
let work: string;
let data: string;
let ctx: ServerContext;
let cases: CaseService;
let service: DropService;
/** Files made for the tests (sealed files, sidecars) before they are placed in a remote folder. */
let made: string;

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Seals random content with `openssl cms -encrypt` (EnvelopedData, AES-256-CBC, RSA-OAEP) to the given people. */
async function seal(name: string, to: string[]): Promise<string> {
  const plain = path.join(made, `${name}.csv`);
  writeFileSync(plain, `id,name\n${randomBytes(24).toString("hex")},測試資料\n`);
  const out = path.join(made, `${name}.p7m`);
  const recips = to.flatMap((id) => ["-recip", fx(person(id).encrypt.cert), "-keyopt", "rsa_padding_mode:oaep"]);
  await run("openssl", [
    "cms",
    "-encrypt",
    "-binary",
    "-aes-256-cbc",
    "-outform",
    "DER",
    "-in",
    plain,
    "-out",
    out,
    ...recips,
  ]);
  return out;
}

/** Seals random content with sealpost's own @sealpost/cms (AuthEnvelopedData, AES-256-GCM, signed by soc-chen). */
async function sealWithSealpost(name: string, to: string[]): Promise<string> {
  const plain = path.join(made, `${name}.csv`);
  writeFileSync(plain, `id,name\n${randomBytes(24).toString("hex")},測試資料\n`);
  const out = path.join(made, `${name}.p7m`);
  const p = person("soc-chen");
  const signer = pickKey(await loadKeystore(fx(p.p12), { pin: p.pin }), "sign");
  const recipients = to.map((id) => parseCertificate(readFileSync(fx(person(id).encrypt.cert), "utf8")));
  await sealFile(plain, out, { recipients, signer });
  return out;
}

const fields = (uploadNo: string) => ({
  category: "WELFARE-TAX",
  receivingAgency: "KHH-TAX",
  records: 1,
  uploadNo,
  remark: "drop test",
  senderEmail: person("soc-chen").email,
});

/** Places a sealed file (and optionally its sidecar / marker) in a remote folder, sidecar last. */
function place(dir: string, sealed: string, opts: { sidecar?: unknown; marker?: boolean; name?: string } = {}): string {
  const name = opts.name ?? path.basename(sealed);
  writeFileSync(path.join(dir, name), readFileSync(sealed));
  if (opts.sidecar !== undefined) {
    const text = typeof opts.sidecar === "string" ? opts.sidecar : JSON.stringify(opts.sidecar);
    writeFileSync(path.join(dir, `${name}.json`), text);
  }
  if (opts.marker) writeFileSync(path.join(dir, `${name}.done`), "");
  return name;
}

function remoteFolder(name: string): string {
  const dir = path.join(sshd.remoteDir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function dropInput(name: string, dir: string, extra: Partial<DropInput> = {}): DropInput {
  return {
    name,
    agency: "KHH-SOC",
    direction: "pull",
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.clientPrivateKey,
    remoteDir: dir,
    hostKeySha256: sshd.hostKeyFingerprint,
    schedule: "0 0 1 1 *",
    retryBaseMs: 50,
    maxAttempts: 3,
    ...extra,
  };
}

const ops = { staffId: "ops-test", agency: "SEALPOST-OPS" };

async function casesWithPayload(sha: string): Promise<{ id: string; state: string }[]> {
  return (await rawAll(ctx.db, "SELECT id, state FROM cases WHERE payload_sha256 = ?", sha)) as {
    id: string;
    state: string;
  }[];
}

async function auditCount(action: string, like = "%"): Promise<number> {
  return (
    (await rawGet(ctx.db, "SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND detail LIKE ?", action, like)) as {
      n: number;
    }
  ).n;
}

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(path.join(tmpdir(), "sealpost-drops-"));
  made = path.join(work, "made");
  mkdirSync(made);
  data = path.join(work, "data");
  const chain = path.join(work, "chain.pem");
  writeFileSync(chain, readFileSync(fx(manifest.intermediate.cert)));
  await initDataDir({
    data,
    trust: fx(manifest.root.cert),
    intermediates: chain,
    crl: [fx(manifest.root.crl), fx(manifest.intermediate.crl)],
    revocation: "require",
    adminCert: fx(person("ops-wu").sign.cert),
    adminEmail: person("ops-wu").email,
    adminAgency: "SEALPOST-OPS",
    log: silentLogger,
  });
  ctx = await createContext(data, { log: silentLogger });
  const registry = createRegistryService({ db: ctx.db, clock: ctx.clock, validator: ctx.validator });
  cases = createCaseService({
    db: ctx.db,
    clock: ctx.clock,
    validator: ctx.validator,
    store: ctx.store,
    log: silentLogger,
    config: ctx.config,
  });
  for (const code of ["KHH-SOC", "KHH-TAX"]) {
    const a = manifest.agencies[code]!;
    await registry.addAgency(null, { code, name: a.name, email: a.email, allowCidrs: [] });
  }
  for (const id of ["soc-chen", "tax-wang", "ops-liu"]) {
    const p = person(id);
    const agency = p.agency;
    const s = await registry.addStaff(null, { agency, name: p.name, email: p.email, role: p.role as "staff" | "ops" });
    if (id !== "ops-liu") {
      await registry.addCertificate(null, {
        staff: s.id,
        pem: readFileSync(fx(p.encrypt.cert), "utf8"),
        purpose: "encrypt",
      });
    }
    // tax-wang signs the receipt that makes a case received (the push test of a result needs one).
    if (id === "tax-wang") {
      await registry.addCertificate(null, { staff: s.id, pem: readFileSync(fx(p.sign.cert), "utf8"), purpose: "sign" });
    }
  }
  await registry.addCategory(null, {
    code: "WELFARE-TAX",
    name: "社會救助資格比對",
    purpose: "社會救助法第44條之3 (test)",
  });
  service = new DropService({
    db: ctx.db,
    dataDir: data,
    payloads: corePayloadSink({ cases, db: ctx.db }),
    deliveries: coreDeliverySource(ctx.db, ctx.store),
    tempPath: () => ctx.store.tempPath(),
    log: silentLogger,
  });
});

afterAll(async () => {
  await service?.stop();
  if (ctx) await closeContext(ctx);
  await sshd?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The recipients every good payload must be sealed to: the receiving staff and the sender's own certificate. */
const GOOD = ["tax-wang", "soc-chen"];

describe("pull", () => {
  test("takes complete files, registers each once, moves them to processed/, leaves a file still being written", async () => {
    const dir = remoteFolder("soc-out");
    await service.create(dropInput("soc-out", dir), ops);
    const a = await seal("pull-a", GOOD);
    const b = await seal("pull-b", GOOD);
    place(dir, a, { sidecar: fields("A-001") });
    place(dir, b); // no sidecar yet: still being written
    const own = await sealWithSealpost("pull-own", GOOD);
    place(dir, own, { sidecar: fields("S-001") });

    const first = await (await service.runNow("soc-out")).done;
    expect(first.status).toBe("ok");
    expect(first.files).toBe(2);
    expect(first.bytes).toBe(statSync(a).size + statSync(own).size);
    expect(await casesWithPayload(sha256(a))).toEqual([{ id: expect.any(String), state: "sent" }]);
    expect(await casesWithPayload(sha256(own))).toEqual([{ id: expect.any(String), state: "sent" }]);
    expect(readdirSync(dir).sort()).toEqual(["failed", "processed", "pull-b.p7m"]);
    expect(readdirSync(path.join(dir, "processed")).sort()).toEqual([
      "pull-a.p7m",
      "pull-a.p7m.json",
      "pull-own.p7m",
      "pull-own.p7m.json",
    ]);
    expect(sha256(path.join(dir, "processed/pull-a.p7m"))).toBe(sha256(a));
    expect(await auditCount("drop.pull.registered")).toBe(2);

    writeFileSync(path.join(dir, "pull-b.p7m.json"), JSON.stringify(fields("B-001")));
    const second = await (await service.runNow("soc-out")).done;
    expect(second.files).toBe(1);
    expect(await casesWithPayload(sha256(b))).toHaveLength(1);

    // The agency drops the very same bytes again under another name: moved, never registered twice.
    place(dir, a, { sidecar: fields("A-001"), name: "again.p7m" });
    const third = await (await service.runNow("soc-out")).done;
    expect(third.status).toBe("ok");
    expect(third.files).toBe(0);
    expect(await casesWithPayload(sha256(a))).toHaveLength(1);
    expect(readdirSync(path.join(dir, "processed"))).toContain("again.p7m");
    expect(readdirSync(dir).filter((n) => n.endsWith(".p7m"))).toEqual([]);
    expect((await service.drops((r) => r.files("soc-out"))).map((f) => f.outcome)).toEqual([
      "processed",
      "processed",
      "processed",
    ]);
  });

  test("an outbox listing past maxListEntries is cut there: LIST_TRUNCATED recorded on the run, the run still ok", async () => {
    const dir = remoteFolder("soc-crowded");
    await service.create(dropInput("soc-crowded", dir), ops);
    for (let i = 0; i < 12; i++) writeFileSync(path.join(dir, `note-${i}.txt`), "x");
    const capped = new DropService({
      db: ctx.db,
      dataDir: data,
      payloads: corePayloadSink({ cases, db: ctx.db }),
      deliveries: coreDeliverySource(ctx.db, ctx.store),
      tempPath: () => ctx.store.tempPath(),
      log: silentLogger,
      maxListEntries: 5,
    });
    try {
      const run = await (await capped.runNow("soc-crowded")).done;
      expect(run.status).toBe("ok");
      expect(run.errors.map((e) => e.code)).toEqual(["LIST_TRUNCATED"]);
      expect(run.errors[0]!.message).toContain("more than 5 entries");
    } finally {
      await capped.stop();
    }
    // The default cap (10 000) reads the whole folder: no warning.
    const whole = await (await service.runNow("soc-crowded")).done;
    expect(whole.errors).toEqual([]);
  });

  test("marker completion: a sidecar alone is not enough, the .done marker makes the file complete", async () => {
    const dir = remoteFolder("soc-marker");
    await service.create(dropInput("soc-marker", dir, { completion: "marker" }), ops);
    const c = await seal("pull-c", GOOD);
    place(dir, c, { sidecar: fields("C-001") });
    expect((await (await service.runNow("soc-marker")).done).files).toBe(0);
    expect(readdirSync(dir)).toContain("pull-c.p7m");
    writeFileSync(path.join(dir, "pull-c.p7m.done"), "");
    expect((await (await service.runNow("soc-marker")).done).files).toBe(1);
    expect(readdirSync(path.join(dir, "processed")).sort()).toEqual([
      "pull-c.p7m",
      "pull-c.p7m.done",
      "pull-c.p7m.json",
    ]);
  });

  test("refused files go to failed/ with NAME.error.txt giving the reason; nothing is registered", async () => {
    const dir = remoteFolder("soc-bad");
    await service.create(dropInput("soc-bad", dir), ops);
    const junk = path.join(made, "junk.p7m");
    writeFileSync(junk, randomBytes(3000));
    const wrong = await seal("wrong-recipients", ["tax-wang"]); // the sender's own certificate is missing
    const good = await seal("bad-sidecar", GOOD);
    place(dir, junk, { sidecar: fields("J-001") });
    place(dir, wrong, { sidecar: fields("W-001") });
    place(dir, good, { sidecar: "{ not json" });

    const r = await (await service.runNow("soc-bad")).done;
    // Refused files make the run partial (not ok); the drop stays healthy.
    expect(r.status).toBe("partial");
    expect((await service.get("soc-bad")).health).toBe("ok");
    expect(r.files).toBe(0);
    expect(r.errors.map((e) => [e.file, e.code]).sort()).toEqual([
      ["bad-sidecar.p7m", "BAD_SIDECAR"],
      ["junk.p7m", "NOT_CMS"],
      ["wrong-recipients.p7m", "RECIPIENTS_MISMATCH"],
    ]);
    const failed = path.join(dir, "failed");
    expect(readdirSync(failed).sort()).toEqual([
      "bad-sidecar.error.txt",
      "bad-sidecar.p7m",
      "bad-sidecar.p7m.json",
      "junk.error.txt",
      "junk.p7m",
      "junk.p7m.json",
      "wrong-recipients.error.txt",
      "wrong-recipients.p7m",
      "wrong-recipients.p7m.json",
    ]);
    expect(readFileSync(path.join(failed, "junk.error.txt"), "utf8")).toMatch(/NOT_CMS/);
    const note = readFileSync(path.join(failed, "wrong-recipients.error.txt"), "utf8");
    expect(note).toMatch(/RECIPIENTS_MISMATCH/);
    // The note says what to fix: the certificates expected (the missing one marked) and those found.
    const wangEnc = parseCertificate(readFileSync(fx(person("tax-wang").encrypt.cert), "utf8"));
    const chenEnc = parseCertificate(readFileSync(fx(person("soc-chen").encrypt.cert), "utf8"));
    expect(note).toContain("Expected recipient certificates");
    expect(note).toContain(`SHA-256 ${wangEnc.sha256}`);
    expect(note).toMatch(new RegExp(`SHA-256 ${chenEnc.sha256}  <- missing from the file`));
    expect(note).toMatch(new RegExp(`Recipients found in the file:\\n  - ktri: .*serial ${wangEnc.serialHex}`, "i"));
    for (const f of readdirSync(failed).filter((n) => n.endsWith(".error.txt"))) {
      expect(statSync(path.join(failed, f)).mode & 0o777).toBe(0o644);
    }
    expect(readFileSync(path.join(failed, "bad-sidecar.error.txt"), "utf8")).toMatch(/not valid JSON/);
    expect(readdirSync(dir).sort()).toEqual(["failed", "processed"]);
    for (const f of [junk, wrong, good]) {
      expect(await casesWithPayload(sha256(f))).toEqual([]);
    }
    expect(await auditCount("drop.pull.rejected", "%soc-bad%")).toBe(3);
    // No case at all for the refused files (not even one registered and then cancelled).
    expect(await rawAll(ctx.db, "SELECT id FROM cases WHERE upload_no IN ('J-001', 'W-001')")).toEqual([]);
  });

  test("a file larger than the server takes is refused after hashing only its first 64 MiB", async () => {
    const dir = remoteFolder("soc-huge");
    await service.create(dropInput("soc-huge", dir), ops);
    const huge = path.join(dir, "huge.p7m");
    writeFileSync(huge, Buffer.from("not read whole"));
    truncateSync(huge, 11 * 1024 ** 3); // sparse, over the service's 10 GiB maxFileBytes
    writeFileSync(`${huge}.json`, JSON.stringify(fields("H-001")));
    const r = await (await service.runNow("soc-huge")).done;
    expect(r.errors.map((e) => [e.file, e.code])).toEqual([["huge.p7m", "REJECTED"]]);
    const text = readFileSync(path.join(dir, "failed", "huge.error.txt"), "utf8");
    const prefix = Buffer.alloc(OVERSIZED_HASH_BYTES);
    prefix.write("not read whole");
    expect(text).toContain(
      `SHA-256 of the first ${OVERSIZED_HASH_BYTES} bytes: ${createHash("sha256").update(prefix).digest("hex")}`,
    );
    expect(text).toContain(`Size: ${11 * 1024 ** 3} bytes`);
    rmSync(path.join(dir, "failed", "huge.p7m"));
  }, 60_000);

  test("an unknown host key is refused: nothing transferred, recorded in the run, drop failing, ops mailed", async () => {
    const dir = remoteFolder("soc-mitm");
    const other = hostKeyFingerprint(randomBytes(51));
    await service.create(
      dropInput("soc-mitm", dir, { hostKeySha256: other, notifyEmails: ["duty@ops.sealpost.example"] }),
      ops,
    );
    const d = await seal("mitm", GOOD);
    place(dir, d, { sidecar: fields("M-001") });
    const r = await (await service.runNow("soc-mitm")).done;
    expect(r.status).toBe("failed");
    expect(r.attempts).toBe(1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.code).toBe("HOST_KEY_MISMATCH");
    expect(r.errors[0]!.message).toMatch(/unknown host key/);
    expect(readdirSync(dir).sort()).toEqual(["mitm.p7m", "mitm.p7m.json"]);
    expect(await casesWithPayload(sha256(d))).toEqual([]);
    expect((await service.get("soc-mitm")).health).toBe("failing");
    const mail = (await rawAll(ctx.db, "SELECT recipients, subject FROM mail_outbox WHERE kind = 'drop.failing'")) as {
      recipients: string;
      subject: string;
    }[];
    expect(mail).toHaveLength(1);
    expect(JSON.parse(mail[0]!.recipients).sort()).toEqual(
      ["duty@ops.sealpost.example", person("ops-liu").email].sort(),
    );
    expect(mail[0]!.subject).toMatch(/soc-mitm/);
  });

  test("a registration committed but never recorded (error right after the commit) is found again, not repeated", async () => {
    const dir = remoteFolder("soc-lost");
    const real = corePayloadSink({ cases, db: ctx.db });
    let lost = 0;
    const lossy = new DropService({
      db: ctx.db,
      dataDir: data,
      payloads: {
        async registerPayload(f, file) {
          const r = await real.registerPayload(f, file);
          if (lost === 0) {
            lost += 1;
            throw new Error("simulated crash after the case was committed");
          }
          return r;
        },
        findCaseByPayload: (sha, agency) => real.findCaseByPayload(sha, agency),
      },
      deliveries: coreDeliverySource(ctx.db, ctx.store),
      tempPath: () => ctx.store.tempPath(),
      log: silentLogger,
    });
    await lossy.create(dropInput("soc-lost", dir), ops);
    const f = await seal("lost", GOOD);
    place(dir, f, { sidecar: fields("X-001") });
    const r = await (await lossy.runNow("soc-lost")).done;
    expect(lost).toBe(1);
    expect(r.status).toBe("ok");
    expect(r.attempts).toBe(2);
    expect(r.files).toBe(1);
    expect(await casesWithPayload(sha256(f))).toHaveLength(1);
    expect(readdirSync(path.join(dir, "processed"))).toEqual(["lost.p7m", "lost.p7m.json"]);
    expect(await auditCount("drop.pull.registered", "%recovered%")).toBe(1);
  });

  test("the SFTP server dies mid-run and comes back: the run retries, nothing lost, nothing registered twice", async () => {
    const dir = remoteFolder("soc-crash");
    await service.create(dropInput("soc-crash", dir, { maxAttempts: 8, retryBaseMs: 100 }), ops);
    const files = [];
    for (let i = 1; i <= 4; i++) {
      const f = await seal(`crash-${i}`, GOOD);
      place(dir, f, { sidecar: fields(`K-00${i}`) });
      files.push(f);
    }
    let killed = 0;
    const stages: string[] = [];
    const offFile = service.onFile((e: DropFileEvent) => {
      if (e.drop === "soc-crash") stages.push(`${e.name}:${e.stage}`);
      // Kill the server right after the first case is committed, before its remote move.
      if (e.drop === "soc-crash" && e.stage === "registered" && killed === 0) {
        killed += 1;
        sshd.kill();
      }
    });
    const restarts: Promise<void>[] = [];
    const offAttempt = service.onAttemptFailed((e) => {
      if (e.drop === "soc-crash") restarts.push(sshd.start());
    });
    let r: DropRun;
    try {
      r = await (await service.runNow("soc-crash")).done;
    } finally {
      offFile();
      offAttempt();
      await Promise.allSettled(restarts);
      await sshd.start();
    }
    expect(killed).toBe(1);
    // The first file's case was committed before the kill: the retry only finishes its move.
    expect(stages.slice(0, 3)).toEqual(["crash-1.p7m:registered", "crash-1.p7m:recovered", "crash-1.p7m:processed"]);
    expect(r.status).toBe("ok");
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    expect(r.errors.filter((e) => e.attempt !== undefined).length).toBe(r.attempts - 1);
    expect(r.files).toBe(4);
    expect(readdirSync(dir).sort()).toEqual(["failed", "processed"]);
    expect(readdirSync(path.join(dir, "processed")).filter((n) => n.endsWith(".p7m"))).toHaveLength(4);
    for (const f of files) expect(await casesWithPayload(sha256(f))).toHaveLength(1);
    expect(await auditCount("drop.pull.registered", "%soc-crash%")).toBe(4);
  });
});

/** The actor of a fixture staff member, as the HTTP layer would build it after login. */
async function actorOf(id: string): Promise<Actor> {
  const p = person(id);
  const s = (await rawGet(ctx.db, "SELECT id, agency, role FROM staff WHERE email = ?", p.email)) as {
    id: string;
    agency: string;
    role: Actor["role"];
  };
  return {
    staffId: s.id,
    name: p.name,
    email: p.email,
    agency: s.agency,
    role: s.role,
    certId: "",
    source: "127.0.0.1",
  };
}

async function sentTo(agency: string): Promise<{ id: string; payload_sha256: string }[]> {
  return (await rawAll(
    ctx.db,
    "SELECT id, payload_sha256 FROM cases WHERE receiving_agency = ? AND state = 'sent' ORDER BY id",
    agency,
  )) as { id: string; payload_sha256: string }[];
}

describe("push", () => {
  test("delivers payloads to the receiver's inbox as NAME.part then NAME; a second run writes nothing", async () => {
    const dir = remoteFolder("tax-in");
    await service.create(dropInput("tax-in", dir, { direction: "push", agency: "KHH-TAX" }), ops);
    const pending = await sentTo("KHH-TAX");
    expect(pending.length).toBeGreaterThanOrEqual(5);
    const delivered: string[] = [];
    const partsLeft: string[] = [];
    const off = service.onFile((e) => {
      if (e.drop === "tax-in" && e.stage === "delivered") {
        delivered.push(e.name);
        // At the moment of the event the rename is done: no .part of this file is left.
        if (readdirSync(dir).includes(`${e.name}.part`)) partsLeft.push(e.name);
      }
    });
    const r = await (await service.runNow("tax-in")).done;
    off();
    expect(r.status).toBe("ok");
    expect(r.files).toBe(pending.length);
    expect(delivered).toHaveLength(pending.length);
    expect(partsLeft).toEqual([]);
    const names = readdirSync(dir).sort();
    expect(names).toEqual(pending.map((c) => `${c.id}.payload.p7m`).sort());
    for (const c of pending) expect(sha256(path.join(dir, `${c.id}.payload.p7m`))).toBe(c.payload_sha256);
    expect(await auditCount("drop.push.payload", "%tax-in%")).toBe(pending.length);

    const mtimes = names.map((n) => statSync(path.join(dir, n)).mtimeMs);
    const again = await (await service.runNow("tax-in")).done;
    expect(again.status).toBe("ok");
    expect(again.files).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(names);
    expect(names.map((n) => statSync(path.join(dir, n)).mtimeMs)).toEqual(mtimes);
  });

  test("a file already in the inbox with the expected size counts as delivered (crash after rename)", async () => {
    const dir = path.join(sshd.remoteDir, "tax-in");
    const before = new Set((await sentTo("KHH-TAX")).map((c) => c.id));
    const f = await seal("late", GOOD);
    place(path.join(sshd.remoteDir, "soc-out"), f, { sidecar: fields("L-001") });
    expect((await (await service.runNow("soc-out")).done).files).toBe(1);
    const fresh = (await sentTo("KHH-TAX")).find((c) => !before.has(c.id))!;
    writeFileSync(path.join(dir, `${fresh.id}.payload.p7m`), readFileSync(f));
    const r = await (await service.runNow("tax-in")).done;
    expect(r.files).toBe(0);
    expect((await service.drops((r) => r.pushedFile("tax-in", fresh.id, "payload")))?.outcome).toBe("delivered");
    expect(await auditCount("drop.push.payload", "%alreadyPresent%")).toBe(1);
  });

  test("a .part left by an interrupted push is replaced, then renamed into place", async () => {
    const dir = path.join(sshd.remoteDir, "tax-in");
    const before = new Set((await sentTo("KHH-TAX")).map((c) => c.id));
    const f = await seal("interrupted", GOOD);
    place(path.join(sshd.remoteDir, "soc-out"), f, { sidecar: fields("I-001") });
    expect((await (await service.runNow("soc-out")).done).files).toBe(1);
    const fresh = (await sentTo("KHH-TAX")).find((c) => !before.has(c.id))!;
    writeFileSync(path.join(dir, `${fresh.id}.payload.p7m.part`), randomBytes(100));
    const r = await (await service.runNow("tax-in")).done;
    expect(r.files).toBe(1);
    expect(readdirSync(dir).filter((n) => n.endsWith(".part"))).toEqual([]);
    expect(sha256(path.join(dir, `${fresh.id}.payload.p7m`))).toBe(fresh.payload_sha256);
  });

  test("delivers a processed case's result to the sender agency's inbox", async () => {
    const c = (await sentTo("KHH-TAX"))[0]!;
    const wang = await actorOf("tax-wang");
    await cases.recordDownload(wang, c.id, "payload", undefined, () => {});
    // The receiver's signed receipt, not the download, makes the case received.
    await cases.addReceipt(wang, c.id, signedReceipt("tax-wang", c.id, "payload", c.payload_sha256));
    const result = await seal("result", ["soc-chen"]);
    const temp = ctx.store.tempPath();
    writeFileSync(temp, readFileSync(result));
    await cases.acceptFile(wang, c.id, "result", {
      tempPath: temp,
      sha256: sha256(result),
      size: statSync(result).size,
    });
    const dir = remoteFolder("soc-in");
    await service.create(dropInput("soc-in", dir, { direction: "push", agency: "KHH-SOC" }), ops);
    const r = await (await service.runNow("soc-in")).done;
    expect(r.files).toBe(1);
    expect(readdirSync(dir)).toEqual([`${c.id}.result.p7m`]);
    expect(sha256(path.join(dir, `${c.id}.result.p7m`))).toBe(sha256(result));
    expect(await auditCount("drop.push.result", "%soc-in%")).toBe(1);
  });
});

describe("runs", () => {
  test("a run left running by an instance without its lease is marked aborted at start; a live owner blocks a new run", async () => {
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const insert = async (drop: string, pid: number) =>
      Number(
        (
          await rawGet<{ id: number }>(
            ctx.db,
            `INSERT INTO drop_runs (drop_name, trigger, started_at, status, owner_pid, owner_instance)
             VALUES (?, 'schedule', ?, 'running', ?, 'an-earlier-server') RETURNING id`,
            drop,
            new Date().toISOString(),
            pid,
          )
        )?.id,
      );
    const stale = await insert("soc-out", dead.pid!);
    const live = await insert("soc-in", process.ppid);
    // The live run's instance holds the run's lease (another relay instance, still running it).
    await rawRun(
      ctx.db,
      "INSERT INTO job_leases (name, owner, expires_at, generation) VALUES ('drop:soc-in', 'an-earlier-server', ?, 1)",
      new Date(Date.now() + 3600_000).toISOString(),
    );
    await service.start();
    await service.stop();
    const abortedRun = (await service.drops((r) => r.getRun(stale)))!;
    expect(abortedRun.status).toBe("aborted");
    expect(abortedRun.errors[0]!.code).toBe("ABORTED");
    expect((await service.drops((r) => r.getRun(live)))!.status).toBe("running");
    await expect(service.runNow("soc-in")).rejects.toMatchObject({ code: "RUN_IN_PROGRESS" });
    await service.drops((r) => r.abortRun(live, "test cleanup"));
    await rawRun(ctx.db, "DELETE FROM job_leases WHERE name = 'drop:soc-in'");
    // In this process: a second manual run while one is in progress is refused too.
    const first = await service.runNow("soc-in");
    await expect(service.runNow("soc-in")).rejects.toMatchObject({ code: "RUN_IN_PROGRESS" });
    expect((await first.done).status).toBe("ok");
  });

  test("stopping the server during a retry wait records the run as aborted and leaves the drop's health alone", async () => {
    await service.create(
      dropInput("soc-down", remoteFolder("soc-down"), { port: 1, retryBaseMs: 600_000, maxAttempts: 5 }),
      ops,
    );
    await service.start();
    const stopped: Promise<void>[] = [];
    const off = service.onAttemptFailed((e) => {
      if (e.drop === "soc-down") stopped.push(service.stop());
    });
    const r = await (await service.runNow("soc-down")).done;
    off();
    await Promise.all(stopped);
    expect(r.status).toBe("aborted");
    expect(r.attempts).toBe(1);
    expect(r.errors.map((e) => e.code)).toEqual(["CONNECT_FAILED", "ABORTED"]);
    expect((await service.get("soc-down")).health).toBe("ok");
    expect(await auditCount("drop.run.failed", "%soc-down%")).toBe(0);
  });

  test("a schedule every second fires several times and its runs never overlap", async () => {
    const dir = remoteFolder("tax-tick");
    await service.create(
      dropInput("tax-tick", dir, { direction: "push", agency: "KHH-TAX", schedule: "* * * * * *" }),
      ops,
    );
    await service.start();
    const finished = async () =>
      Number(
        (
          await rawGet<{ n: number }>(
            ctx.db,
            "SELECT COUNT(*) AS n FROM drop_runs WHERE drop_name = 'tax-tick' AND status != 'running'",
          )
        )?.n,
      );
    for (let i = 0; i < 200 && (await finished()) < 3; i++) await new Promise((r) => setTimeout(r, 100));
    await service.stop();
    const runs = (await service.history("tax-tick")).reverse();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.every((r) => r.status === "ok" && r.trigger === "schedule")).toBe(true);
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i - 1]!.endedAt! <= runs[i]!.startedAt).toBe(true);
    }
    // The first run delivered everything pending; later runs found nothing new.
    expect(runs[0]!.files).toBe((await sentTo("KHH-TAX")).length);
    expect(runs.slice(1).every((r) => r.files === 0)).toBe(true);
  });
});

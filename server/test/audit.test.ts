import { spawnSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { canonicalJson } from "@sealpost/protocol";
import {
  checkAuditExport,
  decodeTreeHead,
  type SignedTreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHead,
} from "@sealpost/protocol/transparency";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createAuditKey } from "../src/audit/audit-key.js";
import { type AuditEntryInput, entryHash } from "../src/audit/log.js";
import { verifyAudit } from "../src/audit/verify.js";
import { loadConfig } from "../src/config.js";
import { openDb } from "../src/db/open.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, REPO, registerFixtures, startTestServer } from "./helpers.js";
import { DIALECTS, openTestDb } from "./helpers/postgres.js";
import { rawAll, rawGet, rawRun } from "./helpers/sql.js";

/**
 * The audit log as a transparency log: hash chain, RFC 9162 tree and signed tree heads, checked through the real
 * `sealpost-server audit verify|export|key` commands and the HTTP endpoints over a socket.
 */

const BIN = join(REPO, "server/bin/sealpost-server.js");
let data: Awaited<ReturnType<typeof freshDataDir>>;
let fingerprint: string;

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

// RFC 9162 2.1.1 as written, independent of the relay's code: leaf input = canonical JSON of an entry without its hash.
const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
async function leafInputs(db: Awaited<ReturnType<typeof openDb>>): Promise<Buffer[]> {
  const rows = await rawAll<Record<string, unknown>>(db, "SELECT * FROM audit_log ORDER BY seq");
  return rows.map((r) =>
    Buffer.from(
      canonicalJson({
        seq: Number(r.seq),
        time: r.time,
        actor: r.actor,
        role: r.role,
        agency: r.agency,
        action: r.action,
        caseId: r.case_id,
        fileSha256: JSON.parse(String(r.file_sha256)),
        source: r.source,
        detail: JSON.parse(String(r.detail)),
        prevHash: r.prev_hash,
      }),
    ),
  );
}
const open = () => openDb(data.dir, loadConfig(data.dir).database);

beforeAll(async () => {
  data = await freshDataDir();
  const server = await startTestServer(data.dir);
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  await server.close();
  const show = cli("audit", "key", "show", "--data", data.dir);
  expect(show.status, show.stderr).toBe(0);
  fingerprint = /fingerprint: ([0-9a-f]{64})/.exec(show.stdout)![1]!;
});
afterAll(() => data?.cleanup());

test("init made a 0600 audit key; verify recomputes chain, tree and every signed head", () => {
  expect(statSync(join(data.dir, "audit-key.pem")).mode & 0o777).toBe(0o600);
  expect(cli("audit", "key", "create", "--data", data.dir).status).toBe(2); // one key per relay
  const ok = cli("audit", "verify", "--data", data.dir);
  expect(ok.status, ok.stderr).toBe(0);
  const n = Number(/audit chain intact: (\d+) entries/.exec(ok.stdout)![1]);
  expect(n).toBeGreaterThan(10);
  expect(ok.stdout).toContain(`audit tree intact: root `);
  expect(ok.stdout).toContain(`signed tree heads intact: ${n} heads, each signed by the audit key ${fingerprint}`);
});

test("the export carries the latest head and proofs; it checks offline, and a changed line is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-export-"));
  try {
    const out = join(dir, "audit.jsonl");
    const ex = cli("audit", "export", "--data", data.dir, "-o", out);
    expect(ex.status, ex.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    const header = JSON.parse(lines[0]!);
    expect(header.format).toBe("sealpost-audit-export/1");
    expect(header.auditKey.fingerprint).toBe(fingerprint);
    const entries = lines
      .slice(1)
      .map((l) => JSON.parse(l))
      .filter((l) => l.entry);
    expect(entries.map((l) => l.entry.seq)).toEqual(entries.map((_, i) => i + 1));
    expect(entries[0].entry.action).toBe("agency.add");
    expect(entries.length).toBe(header.treeHead.treeSize);
    const check = (file: string) =>
      checkAuditExport(createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY }), {
        pinned: fingerprint,
      });
    const report = await check(out);
    expect(report).toMatchObject({ entries: entries.length, heads: entries.length - 1, fingerprint });
    // Refuses to overwrite an existing export.
    expect(cli("audit", "export", "--data", data.dir, "-o", out).status).not.toBe(0);
    // One entry's detail changed in the file (its hash recomputed too): its inclusion proof no longer holds.
    const e5 = JSON.parse(lines[5]!);
    e5.entry.detail = { ...e5.entry.detail, email: "intruder@example" };
    const { hash: _h, ...body } = e5.entry;
    e5.entry.hash = entryHash(body);
    const tampered = join(dir, "tampered.jsonl");
    writeFileSync(tampered, [...lines.slice(0, 5), JSON.stringify(e5), ...lines.slice(6)].join("\n"));
    await expect(check(tampered)).rejects.toMatchObject({ code: "TAMPERED" });
    // Another pinned key.
    await expect(
      checkAuditExport(createInterface({ input: createReadStream(out) }), { pinned: "00".repeat(32) }),
    ).rejects.toMatchObject({ code: "TAMPERED" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("over a socket", () => {
  let server: RunningServer;
  let api: Api;
  beforeAll(async () => {
    server = await startTestServer(data.dir);
    api = new Api(server.url);
  });
  afterAll(() => server?.close());

  const headOf = (headers: Headers): SignedTreeHead => decodeTreeHead(headers.get("sealpost-tree-head")!);

  test("every response carries the latest signed head, errors too; it verifies with GET /v1/audit/key", async () => {
    const key = await api.call("GET", "/v1/audit/key");
    expect(key.body).toMatchObject({ algorithm: "Ed25519", fingerprint });
    const pub = createPublicKey(key.body.publicKeyPem);
    const h1 = headOf(key.headers);
    expect(verifyTreeHead(h1, pub)).toBe(true);
    for (const [method, path] of [
      ["GET", "/v1/nowhere"],
      ["GET", "/v1/cases"],
      ["GET", "/v1/audit/consistency?from=x&to=1"],
    ] as const) {
      const r = await api.call(method, path);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(headOf(r.headers)).toEqual(h1);
    }
    expect((await api.call("GET", "/v1/audit/head")).body).toEqual(h1);
    // A change recorded in the log: the response that made it carries a head that includes it.
    await api.login("tax-wang");
    const after = await api.call("GET", "/v1/auth/whoami");
    const h2 = headOf(after.headers);
    expect(h2.treeSize).toBeGreaterThan(h1.treeSize);
    expect(verifyTreeHead(h2, pub)).toBe(true);
  });

  test("consistency and inclusion proofs verify, and equal the independent RFC 9162 computation", async () => {
    const db = await open();
    let leaves: Buffer[];
    try {
      leaves = await leafInputs(db);
    } finally {
      await db.close();
    }
    const head = (await api.call("GET", "/v1/audit/head")).body as SignedTreeHead;
    expect(head.treeSize).toBe(leaves.length);
    expect(head.rootHash).toBe(mth(leaves).toString("hex"));
    for (const from of [0, 1, 2, 3, 4, 7, 8, 9, leaves.length - 1, leaves.length]) {
      const r = await api.call("GET", `/v1/audit/consistency?from=${from}&to=${head.treeSize}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const proof = (r.body.proof as string[]).map((h) => Buffer.from(h, "hex"));
      const ok = verifyConsistency(
        from,
        head.treeSize,
        mth(leaves.slice(0, from)),
        Buffer.from(head.rootHash, "hex"),
        proof,
      );
      expect(ok, `from ${from}`).toBe(true);
    }
    for (const seq of [1, 2, 5, leaves.length]) {
      const r = await api.call("GET", `/v1/audit/inclusion?seq=${seq}&size=${head.treeSize}`);
      expect(r.status).toBe(200);
      expect(r.body.leafHash).toBe(sha(Buffer.of(0), leaves[seq - 1]!).toString("hex"));
      const proof = (r.body.proof as string[]).map((h) => Buffer.from(h, "hex"));
      expect(verifyInclusion(Buffer.from(r.body.leafHash, "hex"), seq - 1, head.treeSize, proof, mth(leaves))).toBe(
        true,
      );
    }
  });

  test.each([
    ["to beyond the signed log", "consistency?from=1&to=999999"],
    ["from above to", "consistency?from=5&to=4"],
    ["not a number", "consistency?from=abc&to=4"],
    ["negative", "consistency?from=-1&to=4"],
    ["huge", "consistency?from=1&to=99999999999999999999"],
    ["missing", "consistency?from=1"],
    ["seq 0", "inclusion?seq=0&size=4"],
    ["seq beyond size", "inclusion?seq=5&size=4"],
    ["size beyond the log", "inclusion?seq=1&size=999999"],
  ])("a bad proof request is a typed 400 (%s)", async (_name, path) => {
    const r = await api.call("GET", `/v1/audit/${path}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("BAD_REQUEST");
  });
});

test("the tables refuse UPDATE and DELETE through SQL (triggers)", async () => {
  const db = await open();
  try {
    for (const [table, where] of [
      ["audit_log", "seq = 1"],
      ["audit_nodes", "level = 0 AND idx = 0"],
      ["audit_heads", "tree_size = 1"],
    ] as const) {
      const col = table === "audit_log" ? "actor" : table === "audit_nodes" ? "hash" : "root_hash";
      await expect(rawRun(db, `UPDATE ${table} SET ${col} = 'x' WHERE ${where}`)).rejects.toThrow(/append-only/);
      await expect(rawRun(db, `DELETE FROM ${table} WHERE ${where}`)).rejects.toThrow(/append-only/);
    }
  } finally {
    await db.close();
  }
});

test("one row edited directly in the database: verify names that entry and exits 6", async () => {
  const db = await open();
  try {
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

test("a data folder from before audit keys: audit key create makes the key, adds the tree and signs its head", async () => {
  const old = await freshDataDir();
  try {
    // What such a folder looks like: no key file, no tree, no heads.
    rmSync(join(old.dir, "audit-key.pem"));
    const db = await openDb(old.dir, loadConfig(old.dir).database);
    try {
      for (const t of ["audit_nodes", "audit_heads"]) {
        await rawRun(
          db,
          db.dialect === "postgres" ? `DROP TRIGGER ${t}_no_delete ON ${t}` : `DROP TRIGGER ${t}_no_delete`,
        );
        await rawRun(db, `DELETE FROM ${t}`);
      }
    } finally {
      await db.close();
    }
    expect(cli("audit", "key", "show", "--data", old.dir).status).toBe(2);
    const made = cli("audit", "key", "create", "--data", old.dir);
    expect(made.status, made.stderr).toBe(0);
    const fp = /fingerprint: ([0-9a-f]{64})/.exec(made.stdout)![1]!;
    expect(made.stdout).toContain("-----BEGIN PUBLIC KEY-----");
    expect(made.stdout).toMatch(/signed the log's tree head: \d+ entries, root [0-9a-f]{64}/);
    const ok = cli("audit", "verify", "--data", old.dir);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`signed tree heads intact: 1 heads, each signed by the audit key ${fp}`);
  } finally {
    await old.cleanup();
  }
});

describe.each(DIALECTS)("verifyAudit (%s)", (dialect) => {
  const keyDir = mkdtempSync(join(tmpdir(), "sealpost-auditkey-"));
  const auditKey = createAuditKey(keyDir);
  afterAll(() => rmSync(keyDir, { recursive: true, force: true }));
  const input = (action: string): AuditEntryInput => ({ actor: "system", role: null, agency: null, action });
  const dropGuards = async (db: Awaited<ReturnType<typeof openTestDb>>["db"]) => {
    for (const table of ["audit_log", "audit_nodes", "audit_heads"]) {
      for (const op of ["update", "delete"]) {
        const t = `${table}_no_${op}`;
        await rawRun(db, dialect === "postgres" ? `DROP TRIGGER ${t} ON ${table}` : `DROP TRIGGER ${t}`);
      }
    }
  };

  test("catches a re-hashed entry, a tree that does not match, a cut tail and a head over removed entries", async () => {
    const t = await openTestDb(dialect, { auditKey });
    const { db } = t;
    try {
      const append = (action: string) => db.tx((uow) => uow.audit.append(input(action), new Date()));
      for (let i = 0; i < 6; i++) await append(`a${i}`);
      expect(await verifyAudit(db, auditKey)).toMatchObject({ ok: true, entries: 6, heads: 6 });
      await dropGuards(db);
      // Entry 2 rewritten and its own hash recomputed: the head signed over two entries no longer matches.
      const e2 = (await rawGet<{ time: string; prev_hash: string }>(db, "SELECT * FROM audit_log WHERE seq = 2"))!;
      const changed = { seq: 2, time: e2.time, actor: "mallory", role: null, agency: null, action: "a1" };
      const rest = { caseId: null, fileSha256: [], source: null, detail: {}, prevHash: e2.prev_hash };
      const original = (await rawGet<{ hash: string }>(db, "SELECT hash FROM audit_log WHERE seq = 2"))!.hash;
      await rawRun(
        db,
        "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 2",
        entryHash({ ...changed, ...rest }),
      );
      expect((await verifyAudit(db, auditKey)).broken).toMatchObject({ seq: 2, reason: "head" });
      await rawRun(db, "UPDATE audit_log SET actor = 'system', hash = ? WHERE seq = 2", original);
      expect((await verifyAudit(db, auditKey)).ok).toBe(true);
      // A stored subtree hash changed: proofs built from it would be wrong.
      const node = (await rawGet<{ hash: string }>(db, "SELECT hash FROM audit_nodes WHERE level = 1 AND idx = 0"))!;
      await rawRun(db, "UPDATE audit_nodes SET hash = ? WHERE level = 1 AND idx = 0", "00".repeat(32));
      expect((await verifyAudit(db, auditKey)).broken).toMatchObject({ seq: 1, reason: "node" });
      await rawRun(db, "UPDATE audit_nodes SET hash = ? WHERE level = 1 AND idx = 0", node.hash);
      // The tail cut off the log (no re-hashing needed): the head signed over 6 entries names it.
      await rawRun(db, "DELETE FROM audit_log WHERE seq = 6");
      expect((await verifyAudit(db, auditKey)).broken).toMatchObject({ seq: 6, reason: "head" });
      // Heads removed too: the tree still holds the sixth leaf.
      await rawRun(db, "DELETE FROM audit_heads WHERE tree_size = 6");
      expect((await verifyAudit(db, auditKey)).broken).toMatchObject({ reason: "size" });
      // A head signed by another key.
      const otherDir = mkdtempSync(join(tmpdir(), "sealpost-auditkey-"));
      const other = createAuditKey(otherDir);
      rmSync(otherDir, { recursive: true, force: true });
      expect((await verifyAudit(db, other)).broken).toMatchObject({ seq: 1, reason: "signature" });
    } finally {
      await t.close();
    }
  });

  test("appends from two instances at once form one chain, one tree and a signed head for each size", async () => {
    const t = await openTestDb(dialect, { auditKey });
    try {
      const other = await t.second();
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? other : t.db).tx((uow) => uow.audit.append(input(`c${i}`), new Date())),
        ),
      );
      expect(await verifyAudit(t.db, auditKey)).toMatchObject({ ok: true, entries: 40, heads: 40 });
      expect(await t.db.read((uow) => uow.audit.treeSize())).toBe(40);
    } finally {
      await t.close();
    }
  });

  test("a log written before the tree gets its leaves on the next append, and its head from catchUp", async () => {
    const t = await openTestDb(dialect);
    try {
      for (let i = 0; i < 5; i++) await t.db.tx((uow) => uow.audit.append(input(`old${i}`), new Date()));
      await dropGuards(t.db);
      await rawRun(t.db, "DELETE FROM audit_nodes");
      expect(await t.db.read((uow) => uow.audit.treeSize())).toBe(0);
      await t.db.tx((uow) => uow.audit.append(input("new"), new Date()));
      expect(await t.db.read((uow) => uow.audit.treeSize())).toBe(6);
      expect(await verifyAudit(t.db, undefined)).toMatchObject({
        ok: true,
        entries: 6,
        heads: 0,
        signaturesChecked: false,
      });
    } finally {
      await t.close();
    }
  });
});

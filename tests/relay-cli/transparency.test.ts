import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "@sealpost/protocol";
import { CompactTree, leafHash, verifyTreeHead } from "@sealpost/protocol/transparency";
import { type RunningServer, startServer, silentLogger } from "@sealpost/server";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { clientAs, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * The relay's transparency log as the spawned `sealpost` sees it against a real server on a loopback port: the
 * audit key pinned on first use or with `login --audit-key`, the tree head of every response checked against the
 * head kept in audit-heads.json, and the attacks of issue 10: audit entries deleted and the chain re-hashed (and
 * the tree rebuilt) in the database, the tail cut off, a head signed by another key. Each stops the next call of a
 * CLI that had seen a later head with exit 6. `audit check` verifies inclusion proofs of the user's cases; an
 * export checks offline and a tampered one is refused.
 */

type Db = RunningServer["ctx"]["db"];

const headsFile = (relay: TestRelay, id: string) => join(relay.work, "home", id, "audit-heads.json");
const keptHead = (relay: TestRelay, id: string) => {
  const f = JSON.parse(readFileSync(headsFile(relay, id), "utf8"));
  return Object.values(f.servers as Record<string, { head: { treeSize: number; rootHash: string } }>)[0]!.head;
};

async function run(relay: TestRelay, id: string, args: string[], want = 0) {
  const r = await sealpostAs(relay, id, args);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(want);
  return r;
}

/** What an attacker with write access to the database does to hide entries: drop the guards, change, rebuild. */
async function dropGuards(db: Db): Promise<void> {
  for (const t of ["audit_log", "audit_nodes", "audit_heads"]) {
    for (const op of ["update", "delete"]) await sql.raw(`DROP TRIGGER IF EXISTS ${t}_no_${op}`).execute(db.kysely);
  }
}

/** Re-hashes the chain from the rows as they are and rebuilds the whole tree from them (the attacker's tooling). */
async function rehashAndRebuild(db: Db): Promise<number> {
  const rows = (await sql<Record<string, unknown>>`SELECT * FROM audit_log ORDER BY seq`.execute(db.kysely)).rows;
  let prev = "0".repeat(64);
  const nodes: { level: number; idx: number; hash: string }[] = [];
  const tree = new CompactTree((n, h) => nodes.push({ level: n.level, idx: n.index, hash: h.toString("hex") }));
  for (const [i, r] of rows.entries()) {
    const body = {
      seq: i + 1,
      time: r.time,
      actor: r.actor,
      role: r.role,
      agency: r.agency,
      action: r.action,
      caseId: r.case_id,
      fileSha256: JSON.parse(String(r.file_sha256)),
      source: r.source,
      detail: JSON.parse(String(r.detail)),
      prevHash: prev,
    };
    const bytes = Buffer.from(canonicalJson(body), "utf8");
    const hash = createHash("sha256").update(bytes).digest("hex");
    await sql`UPDATE audit_log SET seq = ${i + 1}, prev_hash = ${prev}, hash = ${hash} WHERE seq = ${Number(r.seq)}`.execute(
      db.kysely,
    );
    tree.append(leafHash(bytes));
    prev = hash;
  }
  await sql`DELETE FROM audit_nodes`.execute(db.kysely);
  for (const n of nodes) {
    await sql`INSERT INTO audit_nodes (level, idx, hash) VALUES (${n.level}, ${n.idx}, ${n.hash})`.execute(db.kysely);
  }
  return rows.length;
}

describe("a relay whose log is rewritten", () => {
  let relay: TestRelay;
  let fingerprint: string;

  beforeAll(async () => {
    relay = await startRelay("sealpost-transparency-", { adminName: true });
    await registerFixtureRegistry(relay.server.url);
    fingerprint = relay.server.ctx.db.auditKey!.fingerprint;
  }, 120_000);
  afterAll(() => relay?.close());

  test("first use pins the audit key and says so; the head is kept beside the session (0600)", async () => {
    const r = await run(relay, "soc-chen", ["login"]);
    expect(r.stderr).toContain(`pinned the audit key of ${relay.server.url}`);
    expect(r.stderr).toContain(`on first use: SHA-256 ${fingerprint}`);
    expect(statSync(headsFile(relay, "soc-chen")).mode & 0o777).toBe(0o600);
    expect(keptHead(relay, "soc-chen").treeSize).toBeGreaterThan(5);
    // Pinned now: no message the second time.
    expect((await run(relay, "soc-chen", ["cases"])).stderr).not.toContain("pinned");
  });

  test("login --audit-key: a wrong fingerprint is exit 6, a private key file is refused, the public key file pins", async () => {
    const wrong = await run(relay, "tax-wang", ["login", "--audit-key", "ab".repeat(32)], 6);
    expect(wrong.stderr).toContain(`audit key has fingerprint ${fingerprint}, not the ${"ab".repeat(32)}`);
    const priv = join(relay.work, "audit-private.pem");
    writeFileSync(priv, readFileSync(join(relay.work, "data", "audit-key.pem")));
    expect((await run(relay, "tax-wang", ["login", "--audit-key", priv], 2)).stderr).toContain("holds a private key");
    const pub = join(relay.work, "audit-public.pem");
    writeFileSync(pub, createPublicKey(createPrivateKey(readFileSync(priv))).export({ type: "spki", format: "pem" }));
    const ok = await run(relay, "tax-wang", ["login", "--audit-key", pub]);
    expect(ok.stdout).toContain(`pinned the audit key of ${relay.server.url}: SHA-256 ${fingerprint}`);
    expect(ok.stderr).not.toContain("first use");
  });

  test("audit check verifies the head and the inclusion proofs of the user's cases; receipts carry their head", async () => {
    const batch = join(relay.work, "batch.csv");
    writeFileSync(batch, "id,name\n1,王小明\n");
    await run(relay, "soc-chen", [
      "send",
      batch,
      "--to-agency",
      "KHH-TAX",
      "--category",
      "C",
      "--records",
      "1",
      "--upload-no",
      "T-1",
    ]);
    const soc = await clientAs(relay.server.url, "soc-chen");
    const id = (await soc.listCases())[0]!.id;
    await run(relay, "tax-wang", ["receive", id, "-o", join(relay.work, "in")]);
    const [receipt] = await soc.listReceipts({ params: { id } });
    expect(receipt!.auditSeq).toBeGreaterThan(1);
    expect(receipt!.treeHead!.treeSize).toBe(receipt!.auditSeq);
    const auditKey = createPublicKey((await soc.getAuditKey()).publicKeyPem);
    expect(verifyTreeHead(receipt!.treeHead!, auditKey)).toBe(true);
    const shown = await run(relay, "soc-chen", ["receipt", id]);
    expect(shown.stdout).toContain(
      `audit entry ${receipt!.auditSeq} in the signed tree head of ${receipt!.treeHead!.treeSize} entries`,
    );
    const r = await run(relay, "soc-chen", ["audit", "check"]);
    expect(r.stdout).toMatch(/tree head verified: size \d+, root [0-9a-f]{64}/);
    expect(r.stdout).toMatch(/inclusion proofs verified: [3-9]\d* entries of 1 case$/m);
    const j = JSON.parse((await run(relay, "soc-chen", ["--json", "audit", "check"])).stdout);
    expect(j).toMatchObject({ fingerprint, cases: 1 });
  });

  test("entries deleted and the chain re-hashed: a CLI that saw the longer log stops (shrank, then forked)", async () => {
    await run(relay, "tax-wang", ["cases"]); // tax-wang keeps the latest head too
    const before = keptHead(relay, "soc-chen");
    const db = relay.server.ctx.db;
    await dropGuards(db);
    const logSize = Number(
      (await sql<{ n: number }>`SELECT COUNT(*) AS n FROM audit_log`.execute(db.kysely)).rows[0]!.n,
    );
    // Five entries in the middle go; the rest is renumbered, re-hashed, the tree rebuilt; heads that no longer match
    // are removed (the attacker cannot sign new ones).
    await sql`DELETE FROM audit_log WHERE seq BETWEEN 4 AND 8`.execute(db.kysely);
    expect(await rehashAndRebuild(db)).toBe(logSize - 5);
    await sql`DELETE FROM audit_heads WHERE tree_size >= 4`.execute(db.kysely);
    const shrank = await run(relay, "soc-chen", ["cases"], 6);
    expect(shrank.stderr).toContain("audit log shrank");
    expect(shrank.stderr).toContain(`size ${before.treeSize}, root ${before.rootHash}`);
    expect(shrank.stderr).toContain("size 3, root ");
    // The relay signs new heads over the rewritten log as it goes on; it grows past what the CLI saw.
    const admin = await clientAs(relay.server.url, "ops-wu");
    for (let i = 0; i < 8; i++) {
      await admin.addAgency({ body: { code: `X${i}`, name: `x${i}`, email: `x${i}@example.gov.tw` } });
    }
    const forked = await run(relay, "tax-wang", ["cases"], 6);
    expect(forked.stderr).toContain("audit log was rewritten");
    expect(forked.stderr).toContain(`the head you kept (size ${keptHead(relay, "tax-wang").treeSize}`);
    // The kept head is not replaced by the forged one.
    expect(keptHead(relay, "soc-chen")).toEqual(before);
  });
});

describe("a relay whose tail is cut off or whose heads are signed by another key", () => {
  let relay: TestRelay;

  beforeAll(async () => {
    relay = await startRelay("sealpost-transparency-tail-", { adminName: true });
    await registerFixtureRegistry(relay.server.url);
  }, 120_000);
  afterAll(() => relay?.close());

  test("the tail cut off (no re-hashing needed): the next call exits 6 naming both heads", async () => {
    await run(relay, "soc-chen", ["login"]);
    const seen = keptHead(relay, "soc-chen");
    const db = relay.server.ctx.db;
    await dropGuards(db);
    const cut = seen.treeSize - 3;
    await sql`DELETE FROM audit_log WHERE seq > ${cut}`.execute(db.kysely);
    await sql`DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > ${cut}`.execute(db.kysely);
    await sql`DELETE FROM audit_heads WHERE tree_size > ${cut}`.execute(db.kysely);
    const r = await run(relay, "soc-chen", ["cases"], 6);
    expect(r.stderr).toContain("audit log shrank");
    expect(r.stderr).toContain(`size ${seen.treeSize}, root ${seen.rootHash}`);
    expect(r.stderr).toContain(`size ${cut}, root `);
  });

  test("a head signed by a key other than the pinned one is refused (exit 6)", async () => {
    await run(relay, "tax-wang", ["login"]);
    const url = new URL(relay.server.url);
    await relay.server.close();
    // Another key in the data folder: the relay that comes back signs with it.
    const keyFile = join(relay.work, "data", "audit-key.pem");
    writeFileSync(keyFile, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    relay.server = await startServer(join(relay.work, "data"), { listen: `127.0.0.1:${url.port}`, log: silentLogger });
    const admin = await clientAs(relay.server.url, "ops-wu"); // an append: a head signed with the new key
    await admin.whoami();
    const r = await run(relay, "tax-wang", ["cases"], 6);
    expect(r.stderr).toContain("is not signed by the audit key you pinned");
    expect(r.stderr).toMatch(/the last head you verified: size \d+, root [0-9a-f]{64}/);
  });
});

describe("an export checked offline", () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startRelay("sealpost-transparency-export-", { adminName: true });
    await registerFixtureRegistry(relay.server.url);
  }, 120_000);
  afterAll(() => relay?.close());

  test("audit verify-export accepts the relay's export and refuses a tampered one (exit 6)", async () => {
    const out = join(relay.work, "audit.jsonl");
    const serverBin = join(import.meta.dirname, "../../server/bin/sealpost-server.js");
    const ex = spawnSync(
      process.execPath,
      [serverBin, "audit", "export", "--data", join(relay.work, "data"), "-o", out],
      {
        encoding: "utf8",
      },
    );
    expect(ex.status, ex.stderr).toBe(0);
    const fp = relay.server.ctx.db.auditKey!.fingerprint;
    const ok = await run(relay, "soc-chen", ["audit", "verify-export", out, "--audit-key", fp]);
    expect(ok.stdout).toMatch(/audit export intact: \d+ entries \(the whole log\), \d+ earlier heads consistent/);
    // One entry line dropped from the middle: the chain no longer links.
    const lines = readFileSync(out, "utf8").trim().split("\n");
    const bad = join(relay.work, "bad.jsonl");
    writeFileSync(bad, [...lines.slice(0, 4), ...lines.slice(5)].join("\n"));
    expect((await run(relay, "soc-chen", ["audit", "verify-export", bad, "--audit-key", fp], 6)).stderr).toContain(
      "is missing",
    );
    // One entry's actor changed in place.
    const e = JSON.parse(lines[3]!);
    e.entry.actor = "someone-else";
    writeFileSync(bad, [...lines.slice(0, 3), JSON.stringify(e), ...lines.slice(4)].join("\n"));
    expect((await run(relay, "soc-chen", ["audit", "verify-export", bad, "--audit-key", fp], 6)).stderr).toContain(
      "was changed after it was written",
    );
    // Another key pinned.
    const other = await run(relay, "soc-chen", ["audit", "verify-export", out, "--audit-key", "cd".repeat(32)], 6);
    expect(other.stderr).toContain("not the pinned");
  });
});

import { sql } from "kysely";
import {
  auditEntryBytes,
  CompactTree,
  decompose,
  leafHash,
  type PerfectNode,
  type SignedTreeHead,
  signTreeHead,
} from "@sealpost/protocol/transparency";
import type { SqlContext } from "../db/sql.js";
import { ServerError } from "../errors.js";
import type { AuditKey } from "./audit-key.js";
import { type AuditEntry, type AuditEntryInput, entryHash, GENESIS_HASH } from "./log.js";

/** Key of the transaction-level advisory lock that serialises audit appends on PostgreSQL (all instances). */
const AUDIT_LOCK = 7_316_000_002;

/** A stored signed tree head and the fingerprint of the key that signed it. */
export interface StoredTreeHead extends SignedTreeHead {
  keyFingerprint: string;
}

/**
 * The audit log's storage: the hash chain (`audit_log`), the RFC 9162 Merkle tree over it (`audit_nodes`: the
 * hash of every complete subtree) and the signed tree heads (`audit_heads`). Appends are serialised so each entry
 * links to the one before and the tree grows one leaf at a time: on SQLite the caller's transaction holds the
 * database's write lock from its start (BEGIN IMMEDIATE); on PostgreSQL `append` first takes a transaction-level
 * advisory lock, held until the caller's transaction ends, so appends of every instance form one chain and one
 * tree. The tables refuse UPDATE and DELETE (triggers).
 */
export class AuditRepository {
  constructor(
    private readonly s: SqlContext,
    /** Signs a tree head after each append; without it the tree grows unsigned. */
    private readonly key?: AuditKey,
  ) {}

  /**
   * Appends one entry at time `now`, adds its leaf to the tree (and the leaves of entries written before the tree
   * existed), signs the new tree head with the audit key when there is one, and returns the entry. Must run inside
   * the transaction of the change it records (Db.tx): throws otherwise. Call it late in the transaction: on
   * PostgreSQL it holds the log's lock until commit.
   */
  async append(input: AuditEntryInput, now: Date): Promise<AuditEntry> {
    await this.lock();
    const last = await this.last();
    const partial: Omit<AuditEntry, "hash"> = {
      seq: (last?.seq ?? 0) + 1,
      time: now.toISOString(),
      actor: input.actor,
      role: input.role,
      agency: input.agency,
      action: input.action,
      caseId: input.caseId ?? null,
      fileSha256: input.fileSha256 ?? [],
      source: input.source ?? null,
      detail: input.detail ?? {},
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...partial, hash: entryHash(partial) };
    await this.s.q
      .insertInto("audit_log")
      .values({
        seq: entry.seq,
        time: entry.time,
        actor: entry.actor,
        role: entry.role,
        agency: entry.agency,
        action: entry.action,
        case_id: entry.caseId,
        file_sha256: JSON.stringify(entry.fileSha256),
        source: entry.source,
        detail: JSON.stringify(entry.detail),
        prev_hash: entry.prevHash,
        hash: entry.hash,
      })
      .execute();
    await this.growTree(entry.seq, now, entry);
    return entry;
  }

  /**
   * Brings the tree up to the log's last entry and, with the audit key, signs a head for it unless one exists:
   * what `audit key create` runs on a data folder whose log predates the tree. Inside a transaction (Db.tx).
   * Returns the head signed or kept (undefined without a key).
   */
  async catchUp(now: Date): Promise<StoredTreeHead | undefined> {
    await this.lock();
    const size = (await this.last())?.seq ?? 0;
    await this.growTree(size, now);
    return size === 0 ? undefined : this.headAt(size);
  }

  private async lock(): Promise<void> {
    if (!this.s.inTransaction) throw new Error("audit entries are appended inside the transaction of their change");
    if (this.s.dialect === "postgres") await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`.execute(this.s.q);
  }

  /** Adds the leaves of entries (tree size, size]; `latest` is entry `size` when the caller has it in hand. */
  private async growTree(size: number, now: Date, latest?: AuditEntry): Promise<void> {
    const have = await this.treeSize();
    if (have > size) {
      throw new ServerError("INTERNAL", `The audit tree holds ${have} leaves but the log only ${size} entries.`, {
        hint: "The database was changed behind the relay's back: run sealpost-server audit verify.",
      });
    }
    const edge = await this.nodes(decompose({ start: 0, end: have }));
    const added: { level: number; idx: number; hash: string }[] = [];
    const tree = CompactTree.resume(have, edge, (n, h) => {
      added.push({ level: n.level, idx: n.index, hash: h.toString("hex") });
    });
    let after = have;
    while (after < size) {
      const page = latest && after === size - 1 ? [latest] : await this.page(after, Math.min(1000, size - after));
      if (page.length === 0 || page[0]!.seq !== after + 1) {
        throw new ServerError("INTERNAL", `Audit entry ${after + 1} is missing.`, {
          hint: "The database was changed behind the relay's back: run sealpost-server audit verify.",
        });
      }
      for (const e of page) tree.append(leafHash(auditEntryBytes(e)));
      after = page.at(-1)!.seq;
    }
    for (let i = 0; i < added.length; i += 200) {
      await this.s.q
        .insertInto("audit_nodes")
        .values(added.slice(i, i + 200))
        .execute();
    }
    if (this.key && size > 0) {
      const head = signTreeHead(size, tree.root(), this.key.privateKey, now);
      // A head already signed for this size (catchUp on a signed log) is kept.
      await this.s.q
        .insertInto("audit_heads")
        .values({
          tree_size: head.treeSize,
          root_hash: head.rootHash,
          time: head.timestamp,
          key_fingerprint: this.key.fingerprint,
          signature: head.signature,
        })
        .onConflict((oc) => oc.column("tree_size").doNothing())
        .execute();
    }
  }

  /** Number of leaves in the tree. */
  async treeSize(): Promise<number> {
    const r = await this.s.q
      .selectFrom("audit_nodes")
      .select((eb) => eb.fn.max("idx").as("top"))
      .where("level", "=", 0)
      .executeTakeFirst();
    return r?.top === null || r?.top === undefined ? 0 : Number(r.top) + 1;
  }

  /**
   * The hashes of complete subtrees, in the order asked (one query). INTERNAL when one is missing: the tree is
   * written with the log, so a gap means someone removed rows.
   */
  async nodes(coords: readonly PerfectNode[]): Promise<Buffer[]> {
    const found = await this.findNodes(coords);
    return coords.map((c, i) => {
      const h = found[i];
      if (h === undefined) {
        throw new ServerError("INTERNAL", `The audit tree lacks node ${c.level}/${c.index}.`, {
          hint: "The database was changed behind the relay's back: run sealpost-server audit verify.",
        });
      }
      return h;
    });
  }

  /** The hashes of complete subtrees, in the order asked (one query); undefined for one not stored. */
  async findNodes(coords: readonly PerfectNode[]): Promise<(Buffer | undefined)[]> {
    if (coords.length === 0) return [];
    const byLevel = new Map<number, number[]>();
    for (const c of coords) byLevel.set(c.level, [...(byLevel.get(c.level) ?? []), c.index]);
    const rows = await this.s.q
      .selectFrom("audit_nodes")
      .select(["level", "idx", "hash"])
      .where((eb) =>
        eb.or([...byLevel].map(([level, idxs]) => eb.and([eb("level", "=", level), eb("idx", "in", idxs)]))),
      )
      .execute();
    const found = new Map(rows.map((r) => [`${r.level}/${Number(r.idx)}`, r.hash]));
    return coords.map((c) => {
      const h = found.get(`${c.level}/${c.index}`);
      return h === undefined ? undefined : Buffer.from(h, "hex");
    });
  }

  /** The head signed for the largest tree size, or undefined when none was signed. */
  async latestHead(): Promise<StoredTreeHead | undefined> {
    const r = await this.s.q
      .selectFrom("audit_heads")
      .selectAll()
      .orderBy("tree_size", "desc")
      .limit(1)
      .executeTakeFirst();
    return r ? headOf(r) : undefined;
  }

  /** The head signed for exactly `size` entries. */
  async headAt(size: number): Promise<StoredTreeHead | undefined> {
    const r = await this.s.q.selectFrom("audit_heads").selectAll().where("tree_size", "=", size).executeTakeFirst();
    return r ? headOf(r) : undefined;
  }

  /** Up to `limit` heads with a tree size above `after`, smallest first. */
  async headPage(after: number, limit: number): Promise<StoredTreeHead[]> {
    const rows = await this.s.q
      .selectFrom("audit_heads")
      .selectAll()
      .where("tree_size", ">", after)
      .orderBy("tree_size")
      .limit(limit)
      .execute();
    return rows.map(headOf);
  }

  /** The last entry's sequence number and hash, or undefined for an empty chain. */
  async last(): Promise<{ seq: number; hash: string } | undefined> {
    return this.s.q.selectFrom("audit_log").select(["seq", "hash"]).orderBy("seq", "desc").limit(1).executeTakeFirst();
  }

  /** Up to `limit` entries after sequence number `after`, in order. */
  async page(after: number, limit: number): Promise<AuditEntry[]> {
    const rows = await this.s.q
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">", after)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(entryOf);
  }

  /** The entries about one case, in order (at most `limit`). */
  async forCase(caseId: string, limit: number): Promise<AuditEntry[]> {
    const rows = await this.s.q
      .selectFrom("audit_log")
      .selectAll()
      .where("case_id", "=", caseId)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(entryOf);
  }
}

function entryOf(r: {
  seq: number;
  time: string;
  actor: string | null;
  role: string | null;
  agency: string | null;
  action: string;
  case_id: string | null;
  file_sha256: string;
  source: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}): AuditEntry {
  return {
    seq: Number(r.seq),
    time: r.time,
    actor: r.actor,
    role: r.role,
    agency: r.agency,
    action: r.action,
    caseId: r.case_id,
    fileSha256: JSON.parse(r.file_sha256) as string[],
    source: r.source,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function headOf(r: {
  tree_size: number;
  root_hash: string;
  time: string;
  key_fingerprint: string;
  signature: string;
}): StoredTreeHead {
  return {
    treeSize: Number(r.tree_size),
    rootHash: r.root_hash,
    timestamp: r.time,
    signature: r.signature,
    keyFingerprint: r.key_fingerprint,
  };
}

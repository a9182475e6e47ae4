import {
  auditEntryBytes,
  CompactTree,
  leafHash,
  type PerfectNode,
  verifyTreeHead,
} from "@sealpost/protocol/transparency";
import type { Db } from "../db/db.js";
import type { AuditKey } from "./audit-key.js";
import { entryHash, GENESIS_HASH, iterateAudit } from "./log.js";
import type { StoredTreeHead } from "./repository.js";

/** Why a check failed: the chain (hash, link, sequence), the tree (node, size) or a signed head (head, signature). */
export type AuditBreak = "hash" | "link" | "sequence" | "node" | "size" | "head" | "signature";

/**
 * The outcome of `verifyAudit`: `ok`, the entries checked, the chain's last hash, the tree's root over them, the
 * signed heads checked, and the first problem when not ok (`seq` is the entry, or the head's tree size).
 */
export interface AuditVerifyResult {
  ok: boolean;
  entries: number;
  lastHash: string;
  rootHash: string;
  heads: number;
  /** False when the data folder has no audit key: heads were compared with the tree but their signatures not checked. */
  signaturesChecked: boolean;
  broken?: { seq: number; reason: AuditBreak; message: string };
}

/**
 * Recomputes everything from the entries: each entry's hash over its fields, its link to the previous hash and
 * consecutive sequence numbers (the chain); each entry's leaf and every complete subtree of the RFC 9162 tree,
 * compared with the stored nodes, and no stored leaf beyond the log (the tree); every stored tree head's root
 * against the tree at its size and its signature with the folder's audit key (the heads). Constant memory; stops at
 * the first problem and names it.
 */
export async function verifyAudit(db: Db, key: AuditKey | undefined = db.auditKey): Promise<AuditVerifyResult> {
  let prev = GENESIS_HASH;
  let n = 0;
  let heads = 0;
  const computed: { node: PerfectNode; hash: Buffer }[] = [];
  const tree = new CompactTree((node, hash) => computed.push({ node, hash }));
  const result = (broken?: AuditVerifyResult["broken"]): AuditVerifyResult => ({
    ok: !broken,
    entries: n,
    lastHash: prev,
    rootHash: tree.root().toString("hex"),
    heads,
    signaturesChecked: !!key,
    ...(broken ? { broken } : {}),
  });
  let pending: StoredTreeHead[] = [];
  let headsAfter = 0;
  const nextHead = async (): Promise<StoredTreeHead | undefined> => {
    if (pending.length === 0) {
      pending = await db.read((uow) => uow.audit.headPage(headsAfter, 500));
      if (pending.length > 0) headsAfter = pending.at(-1)!.treeSize;
    }
    return pending[0];
  };
  const checkHead = (h: StoredTreeHead): AuditVerifyResult["broken"] | undefined => {
    if (h.rootHash !== tree.root().toString("hex")) {
      return {
        seq: h.treeSize,
        reason: "head",
        message: `the signed tree head of ${h.treeSize} entries does not match the log's first ${h.treeSize} entries`,
      };
    }
    if (key && (h.keyFingerprint !== key.fingerprint || !verifyTreeHead(h, key.publicKey))) {
      return {
        seq: h.treeSize,
        reason: "signature",
        message: `the tree head of ${h.treeSize} entries is not signed by this relay's audit key ${key.fingerprint}`,
      };
    }
    heads++;
    return undefined;
  };
  const flush = async (): Promise<AuditVerifyResult["broken"] | undefined> => {
    if (computed.length === 0) return undefined;
    const batch = computed.splice(0);
    const stored = await db.read((uow) => uow.audit.findNodes(batch.map((c) => c.node)));
    for (const [i, c] of batch.entries()) {
      const s = stored[i];
      if (s === undefined || !s.equals(c.hash)) {
        const seq = c.node.index * 2 ** c.node.level + 1;
        const what =
          c.node.level === 0 ? `the tree's leaf of entry ${seq}` : `tree node ${c.node.level}/${c.node.index}`;
        return {
          seq,
          reason: "node",
          message: `${what} is ${s === undefined ? "missing" : "not the hash of the entries"}`,
        };
      }
    }
    return undefined;
  };
  let head = await nextHead();
  while (head && head.treeSize === 0) {
    pending.shift();
    head = await nextHead();
  }
  for await (const e of iterateAudit(db)) {
    const expectSeq = n + 1;
    if (e.seq !== expectSeq) {
      return result({ seq: e.seq, reason: "sequence", message: `entry ${expectSeq} is missing (next is ${e.seq})` });
    }
    const { hash, ...rest } = e;
    if (entryHash(rest) !== hash) {
      return result({ seq: e.seq, reason: "hash", message: `entry ${e.seq} was changed after it was written` });
    }
    if (e.prevHash !== prev) {
      return result({ seq: e.seq, reason: "link", message: `entry ${e.seq} does not link to entry ${e.seq - 1}` });
    }
    prev = hash;
    n++;
    tree.append(leafHash(auditEntryBytes(e)));
    if (computed.length >= 1000) {
      const broken = await flush();
      if (broken) return result(broken);
    }
    while (head && head.treeSize === n) {
      const broken = checkHead(head);
      if (broken) return result(broken);
      pending.shift();
      head = await nextHead();
    }
  }
  const broken = await flush();
  if (broken) return result(broken);
  if (head) {
    return result({
      seq: head.treeSize,
      reason: "head",
      message: `a tree head was signed for ${head.treeSize} entries but the log has only ${n}: entries were removed`,
    });
  }
  const stored = await db.read((uow) => uow.audit.treeSize());
  if (stored !== n) {
    return result({
      seq: n + 1,
      reason: "size",
      message: `the tree holds ${stored} leaves but the log ${n} entries: entries were removed`,
    });
  }
  return result();
}

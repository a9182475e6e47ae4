import { createPublicKey, type KeyObject } from "node:crypto";
import { SealpostError } from "../errors.js";
import { type AuditEntryBody, auditChainHash, auditEntryBytes } from "./audit-leaf.js";
import { CompactTree, leafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
import {
  auditKeyFingerprint,
  describeTreeHead,
  normalizeFingerprint,
  type SignedTreeHead,
  verifyTreeHead,
} from "./tree-head.js";

/**
 * The audit export (`sealpost-server audit export`): JSON lines an auditor checks offline with the relay's public
 * audit key alone (`sealpost audit verify-export`).
 *
 * - line 1, the header: `{"format":"sealpost-audit-export/1","auditKey":{"algorithm":"Ed25519","publicKeyPem",
 *   "fingerprint"},"treeHead":{treeSize,rootHash,timestamp,signature}}` (the latest signed head: every proof below
 *   ends in it);
 * - one line per entry, every entry 1..treeSize in order: `{"entry":{seq,...,prevHash,hash},"inclusion":[hex...]}`,
 *   the entry's inclusion proof in the header's head (leaf index seq - 1);
 * - one line per earlier signed head: `{"head":{...},"consistency":[hex...]}`, its consistency proof to the header's
 *   head (so the log that head saw is a prefix of the exported one).
 */
export const AUDIT_EXPORT_FORMAT = "sealpost-audit-export/1";

export interface AuditExportHeader {
  format: typeof AUDIT_EXPORT_FORMAT;
  auditKey: { algorithm: "Ed25519"; publicKeyPem: string; fingerprint: string };
  treeHead: SignedTreeHead;
}
export interface AuditExportEntry {
  entry: AuditEntryBody & { hash: string };
  inclusion: string[];
}
export interface AuditExportHead {
  head: SignedTreeHead;
  consistency: string[];
}

/** What checkAuditExport found, all of it verified. */
export interface AuditExportReport {
  treeHead: SignedTreeHead;
  fingerprint: string;
  entries: number;
  heads: number;
}

/** Longest export line accepted, in characters. */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * Checks an audit export line by line: the header's key (its fingerprint must be `pinned` when given), the head's
 * signature, each entry's chain hash and link to the entry before it, its inclusion proof in the head, each earlier
 * head's signature and consistency proof, and that the entries are every entry 1..treeSize (the root recomputed
 * from them all equals the head's).
 * Throws TAMPERED (a SealpostError) naming the first line that fails, MALFORMED for a line that is not the format.
 */
export async function checkAuditExport(
  lines: AsyncIterable<string>,
  options: { pinned?: string } = {},
): Promise<AuditExportReport> {
  let lineNo = 0;
  let header: AuditExportHeader | undefined;
  let key: KeyObject | undefined;
  let root = Buffer.alloc(0);
  let entries = 0;
  let heads = 0;
  let lastSeq = 0;
  let lastHash: string | undefined;
  const tree = new CompactTree();
  const tampered = (message: string) =>
    new SealpostError("TAMPERED", `audit export line ${lineNo}: ${message}`, {
      hint: "The export was changed after the relay wrote it, or the relay's log was rewritten.",
    });
  const malformed = (message: string) => new SealpostError("MALFORMED", `audit export line ${lineNo}: ${message}`);
  const hashes = (v: unknown): Buffer[] => {
    if (!Array.isArray(v) || v.length > 64 || !v.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))) {
      throw malformed("a proof is not a list of SHA-256 hashes");
    }
    return v.map((h: string) => Buffer.from(h, "hex"));
  };
  for await (const raw of lines) {
    lineNo++;
    if (raw.length > MAX_LINE) throw malformed("the line is too long");
    if (raw.trim() === "") continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw malformed("not JSON");
    }
    if (!header) {
      header = obj as unknown as AuditExportHeader;
      if (header.format !== AUDIT_EXPORT_FORMAT || !header.auditKey || !header.treeHead) {
        throw malformed(`not a ${AUDIT_EXPORT_FORMAT} file`);
      }
      try {
        key = createPublicKey(header.auditKey.publicKeyPem);
      } catch {
        throw malformed("the audit key is not a public key");
      }
      const fp = auditKeyFingerprint(key);
      if (options.pinned && normalizeFingerprint(options.pinned) !== fp) {
        throw tampered(`the export is signed by audit key ${fp}, not the pinned ${options.pinned}`);
      }
      if (!verifyTreeHead(header.treeHead, key)) {
        throw tampered(`the tree head (${describeTreeHead(header.treeHead)}) does not verify with audit key ${fp}`);
      }
      root = Buffer.from(header.treeHead.rootHash, "hex");
      continue;
    }
    const size = header.treeHead.treeSize;
    if ("entry" in obj) {
      const { entry, inclusion } = obj as unknown as AuditExportEntry;
      if (!entry || typeof entry !== "object" || !Number.isSafeInteger(entry.seq) || typeof entry.hash !== "string") {
        throw malformed("not an audit entry");
      }
      let bytes: Buffer;
      try {
        bytes = auditEntryBytes(entry);
      } catch {
        throw malformed("not an audit entry");
      }
      if (auditChainHash(entry) !== entry.hash) throw tampered(`entry ${entry.seq} was changed after it was written`);
      if (entry.seq !== lastSeq + 1) throw tampered(`entry ${lastSeq + 1} is missing (next is ${entry.seq})`);
      if (lastHash !== undefined && entry.prevHash !== lastHash) {
        throw tampered(`entry ${entry.seq} does not link to entry ${lastSeq}`);
      }
      const leaf = leafHash(bytes);
      if (entry.seq > size || !verifyInclusion(leaf, entry.seq - 1, size, hashes(inclusion), root)) {
        throw tampered(`entry ${entry.seq} is not in the signed tree of ${size} entries`);
      }
      tree.append(leaf);
      lastSeq = entry.seq;
      lastHash = entry.hash;
      entries++;
    } else if ("head" in obj) {
      const { head, consistency } = obj as unknown as AuditExportHead;
      if (!head || typeof head !== "object") throw malformed("not a tree head");
      if (!verifyTreeHead(head, key!))
        throw tampered(`the tree head of ${head.treeSize} entries is not signed by the audit key`);
      const ok = verifyConsistency(head.treeSize, size, Buffer.from(head.rootHash, "hex"), root, hashes(consistency));
      if (!ok) throw tampered(`the tree head of ${head.treeSize} entries is not a prefix of the exported log`);
      heads++;
    } else {
      throw malformed("neither an entry nor a tree head");
    }
  }
  if (!header) throw new SealpostError("MALFORMED", "The audit export is empty.");
  if (lastSeq !== header.treeHead.treeSize || !tree.root().equals(root)) {
    throw new SealpostError(
      "TAMPERED",
      `The export ends after entry ${lastSeq} of the ${header.treeHead.treeSize} its tree head covers.`,
      { hint: "The export was cut short or changed after the relay wrote it." },
    );
  }
  return {
    treeHead: header.treeHead,
    fingerprint: auditKeyFingerprint(key!),
    entries,
    heads,
  };
}

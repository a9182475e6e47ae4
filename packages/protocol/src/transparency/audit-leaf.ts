import { createHash } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";

/** The fields of an audit entry that its hashes cover: every field but `hash`. */
export interface AuditEntryBody {
  seq: number;
  time: string;
  actor: string | null;
  role: string | null;
  agency: string | null;
  action: string;
  caseId: string | null;
  fileSha256: string[];
  source: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
}

/**
 * The bytes of an audit entry that the log hashes: the UTF-8 canonical JSON of its body (every field but `hash`).
 * The entry's chain hash is SHA-256 of these bytes; its leaf in the Merkle tree is leafHash of them (0x00 prefix).
 */
export function auditEntryBytes(e: AuditEntryBody): Buffer {
  const { seq, time, actor, role, agency, action, caseId, fileSha256, source, detail, prevHash } = e;
  const body = { seq, time, actor, role, agency, action, caseId, fileSha256, source, detail, prevHash };
  return Buffer.from(canonicalJson(body), "utf8");
}

/** The entry's chain hash (its `hash` field): SHA-256, lower-case hex, of auditEntryBytes. */
export function auditChainHash(e: AuditEntryBody): string {
  return createHash("sha256").update(auditEntryBytes(e)).digest("hex");
}

import { createHash } from "node:crypto";
import { canonicalJson } from "@sealpost/protocol";
import type Database from "better-sqlite3";

/** What a caller records. Call appendAudit inside the same transaction as the change it records. */
export interface AuditEntryInput {
  /** Staff id, "system", or "drop:<name>". */
  actor: string | null;
  role: string | null;
  agency: string | null;
  action: string;
  caseId?: string | null;
  fileSha256?: string[];
  /** Source IP address. */
  source?: string | null;
  detail?: Record<string, unknown>;
}

/** One entry of the chain as stored. `hash` = SHA-256 over canonicalJson of every other field (prevHash included). */
export interface AuditEntry {
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
  hash: string;
}

/** The prevHash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The hash of an entry: SHA-256 (hex) over the canonical JSON of all its fields except `hash`. */
export function entryHash(e: Omit<AuditEntry, "hash">): string {
  const { seq, time, actor, role, agency, action, caseId, fileSha256, source, detail, prevHash } = e;
  const body = { seq, time, actor, role, agency, action, caseId, fileSha256, source, detail, prevHash };
  return createHash("sha256").update(canonicalJson(body), "utf8").digest("hex");
}

interface AuditRow {
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
}

/** A stored row as an entry (JSON columns parsed). */
export function rowToEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
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

/**
 * Appends one entry to the hash chain and returns it. Must run inside the caller's transaction (better-sqlite3
 * transactions are synchronous, so the read of the last hash and the insert cannot interleave with another append).
 */
export function appendAudit(db: Database.Database, input: AuditEntryInput): AuditEntry {
  const last = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").get() as
    | { seq: number; hash: string }
    | undefined;
  const partial: Omit<AuditEntry, "hash"> = {
    seq: (last?.seq ?? 0) + 1,
    time: new Date().toISOString(),
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
  db.prepare(
    `INSERT INTO audit_log (seq, time, actor, role, agency, action, case_id, file_sha256, source, detail, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    entry.seq,
    entry.time,
    entry.actor,
    entry.role,
    entry.agency,
    entry.action,
    entry.caseId,
    JSON.stringify(entry.fileSha256),
    entry.source,
    JSON.stringify(entry.detail),
    entry.prevHash,
    entry.hash,
  );
  return entry;
}

/** Every entry in sequence order, one at a time (constant memory). */
export function* iterateAudit(db: Database.Database): Generator<AuditEntry> {
  for (const r of db.prepare("SELECT * FROM audit_log ORDER BY seq").iterate()) yield rowToEntry(r as AuditRow);
}

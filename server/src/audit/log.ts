import { auditChainHash } from "@sealpost/protocol/transparency";
import type { Db } from "../db/db.js";

/** What a caller records (AuditRepository.append, inside the transaction of the change it records). */
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
  return auditChainHash(e);
}

/** Every entry in sequence order, read a page at a time (constant memory). */
export async function* iterateAudit(db: Db): AsyncGenerator<AuditEntry> {
  let after = 0;
  for (;;) {
    const page = await db.read((uow) => uow.audit.page(after, 1000));
    yield* page;
    if (page.length < 1000) return;
    after = page.at(-1)!.seq;
  }
}

import type { Db } from "../db/db.js";
import { entryHash, GENESIS_HASH, iterateAudit } from "./log.js";

/** The outcome of a chain check: `ok`, the number of entries checked, and the first broken entry when not ok. */
export interface AuditVerifyResult {
  ok: boolean;
  entries: number;
  lastHash: string;
  broken?: { seq: number; reason: "hash" | "link" | "sequence"; message: string };
}

/**
 * Recomputes the chain from the first entry: each entry's hash over its fields, its link to the previous hash, and
 * consecutive sequence numbers. Stops at the first broken entry and names it.
 */
export async function verifyAudit(db: Db): Promise<AuditVerifyResult> {
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let n = 0;
  for await (const e of iterateAudit(db)) {
    if (e.seq !== expectSeq) {
      return {
        ok: false,
        entries: n,
        lastHash: prev,
        broken: { seq: e.seq, reason: "sequence", message: `entry ${expectSeq} is missing (next is ${e.seq})` },
      };
    }
    const { hash, ...rest } = e;
    if (entryHash(rest) !== hash) {
      return {
        ok: false,
        entries: n,
        lastHash: prev,
        broken: { seq: e.seq, reason: "hash", message: `entry ${e.seq} was changed after it was written` },
      };
    }
    if (e.prevHash !== prev) {
      return {
        ok: false,
        entries: n,
        lastHash: prev,
        broken: { seq: e.seq, reason: "link", message: `entry ${e.seq} does not link to entry ${e.seq - 1}` },
      };
    }
    prev = hash;
    expectSeq++;
    n++;
  }
  return { ok: true, entries: n, lastHash: prev };
}

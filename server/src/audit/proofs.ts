import {
  consistencyRanges,
  decompose,
  foldRange,
  inclusionRanges,
  type LeafRange,
} from "@sealpost/protocol/transparency";
import type { AuditRepository } from "./repository.js";

/**
 * Proofs from the stored tree: each hash of an RFC 9162 proof is MTH of a range of leaves, computed from the
 * complete subtrees that make up the range (at most about log2(n) per range, log2(n) ranges per proof), read in one
 * query. Callers check that the sizes are within the tree.
 */

async function rangeHashes(repo: AuditRepository, ranges: LeafRange[]): Promise<Buffer[]> {
  const parts = ranges.map(decompose);
  const hashes = await repo.nodes(parts.flat());
  const out: Buffer[] = [];
  let at = 0;
  for (const p of parts) {
    out.push(foldRange(hashes.slice(at, at + p.length)));
    at += p.length;
  }
  return out;
}

/** PROOF(from, D[to]): the consistency proof between the trees of `from` and `to` leaves. */
export function consistencyProof(repo: AuditRepository, from: number, to: number): Promise<Buffer[]> {
  return rangeHashes(repo, consistencyRanges(from, to));
}

/** PATH(index, D[size]): the inclusion proof of leaf `index` (entry index + 1) in the tree of `size` leaves. */
export function inclusionProof(repo: AuditRepository, index: number, size: number): Promise<Buffer[]> {
  return rangeHashes(repo, inclusionRanges(index, size));
}

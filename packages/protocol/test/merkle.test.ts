import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CompactTree,
  consistencyRanges,
  decodeTreeHead,
  decompose,
  EMPTY_TREE_HASH,
  encodeTreeHead,
  foldRange,
  inclusionRanges,
  type LeafRange,
  leafHash,
  nodeHash,
  normalizeFingerprint,
  signTreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHead,
} from "@sealpost/protocol/transparency";
import { describe, expect, test } from "vitest";

/** RFC 9162 hashing and proofs against the CT reference vectors and a naive reimplementation written from the RFC. */

const V = JSON.parse(readFileSync(join(import.meta.dirname, "vectors/ct-merkle.json"), "utf8")) as {
  leaves: string[];
  roots: string[];
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { first: number; second: number; proof: string[] }[];
};
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => Buffer.from(s, "hex");

// RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 as written: MTH, PATH and PROOF over the list of leaf inputs.
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_TREE_HASH;
  if (d.length === 1) return leafHash(d[0]!);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const proof = (m: number, d: Buffer[]) => (m === 0 || m === d.length ? [] : subproof(m, d, true));

/** The hashes of ranges as the relay computes them: from complete subtrees only (what it stores). */
function rangeHashes(ranges: LeafRange[], d: Buffer[]): Buffer[] {
  return ranges.map((r) =>
    foldRange(decompose(r).map((n) => mth(d.slice(n.index * 2 ** n.level, (n.index + 1) * 2 ** n.level)))),
  );
}

const ct = V.leaves.map(unhex);
const many = Array.from({ length: 40 }, (_, i) => Buffer.from(`entry ${i}`));

describe("CT reference vectors", () => {
  test("roots for 0..8 leaves, from the naive MTH and from CompactTree", () => {
    const tree = new CompactTree();
    expect(hex(tree.root())).toBe(V.roots[0]);
    for (let n = 1; n <= 8; n++) {
      expect(hex(mth(ct.slice(0, n)))).toBe(V.roots[n]);
      tree.append(leafHash(ct[n - 1]!));
      expect(hex(tree.root())).toBe(V.roots[n]);
    }
  });
  test("inclusion and consistency proofs", () => {
    for (const v of V.inclusion) {
      expect(rangeHashes(inclusionRanges(v.index, v.size), ct).map(hex)).toEqual(v.proof);
      expect(
        verifyInclusion(leafHash(ct[v.index]!), v.index, v.size, v.proof.map(unhex), unhex(V.roots[v.size]!)),
      ).toBe(true);
    }
    for (const v of V.consistency) {
      expect(rangeHashes(consistencyRanges(v.first, v.second), ct).map(hex)).toEqual(v.proof);
      const ok = verifyConsistency(
        v.first,
        v.second,
        unhex(V.roots[v.first]!),
        unhex(V.roots[v.second]!),
        v.proof.map(unhex),
      );
      expect(ok).toBe(true);
    }
  });
});

describe("every size up to 40 against the naive RFC text", () => {
  const roots = Array.from({ length: many.length + 1 }, (_, n) => mth(many.slice(0, n)));
  test("inclusion proofs equal PATH and verify; a changed proof, leaf or index does not", () => {
    for (let n = 1; n <= many.length; n++) {
      const d = many.slice(0, n);
      for (let m = 0; m < n; m++) {
        const p = rangeHashes(inclusionRanges(m, n), d);
        expect(p.map(hex)).toEqual(path(m, d).map(hex));
        const leaf = leafHash(d[m]!);
        expect(verifyInclusion(leaf, m, n, p, roots[n]!)).toBe(true);
        expect(verifyInclusion(leafHash(Buffer.from("other")), m, n, p, roots[n]!)).toBe(false);
        if (p.length > 0) {
          expect(verifyInclusion(leaf, m, n, p.slice(1), roots[n]!)).toBe(false);
          const bent = p.map((h, i) => (i === 0 ? nodeHash(h, h) : h));
          expect(verifyInclusion(leaf, m, n, bent, roots[n]!)).toBe(false);
        }
        expect(verifyInclusion(leaf, n, n, p, roots[n]!)).toBe(false);
      }
    }
  });
  test("consistency proofs equal PROOF and verify; another root or a shortened proof does not", () => {
    for (let n = 1; n <= many.length; n++) {
      const d = many.slice(0, n);
      for (let m = 0; m <= n; m++) {
        const p = rangeHashes(consistencyRanges(m, n), d);
        expect(p.map(hex)).toEqual(proof(m, d).map(hex));
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, p)).toBe(true);
        if (m > 0 && m < n) {
          // A log that rewrote an early entry: its root of m leaves differs.
          const forked = [Buffer.from("forged"), ...d.slice(1)];
          expect(verifyConsistency(m, n, mth(forked.slice(0, m)), roots[n]!, p)).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, mth(forked), p)).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, p.slice(0, -1))).toBe(false);
        }
      }
    }
  });
  test("CompactTree reports every complete subtree as MTH of its leaves", () => {
    const seen: string[] = [];
    const tree = new CompactTree((node, hash) => {
      const w = 2 ** node.level;
      expect(hex(hash)).toBe(hex(mth(many.slice(node.index * w, (node.index + 1) * w))));
      seen.push(`${node.level}/${node.index}`);
    });
    for (const e of many) tree.append(leafHash(e));
    expect(hex(tree.root())).toBe(hex(roots[many.length]!));
    expect(seen.length).toBe(2 * many.length - 2); // 40 leaves: 40 + 20 + 10 + 5 + 2 + 1 complete subtrees
  });
});

describe("signed tree heads", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const other = generateKeyPairSync("ed25519");
  test("sign, encode, decode, verify; another key or a changed field fails", () => {
    const h = signTreeHead(42, Buffer.alloc(32, 7), privateKey, new Date("2026-12-06T03:00:00.123Z"));
    const wire = encodeTreeHead(h);
    expect(wire).toMatch(/^1\.42\.1796526000123\.(07){32}\.[A-Za-z0-9_-]{86}$/);
    expect(decodeTreeHead(wire)).toEqual(h);
    expect(verifyTreeHead(h, publicKey)).toBe(true);
    expect(verifyTreeHead(h, other.publicKey)).toBe(false);
    expect(verifyTreeHead({ ...h, treeSize: 41 }, publicKey)).toBe(false);
    expect(verifyTreeHead({ ...h, rootHash: "08".repeat(32) }, publicKey)).toBe(false);
    expect(verifyTreeHead({ ...h, timestamp: "2026-12-06T03:00:00.124Z" }, publicKey)).toBe(false);
  });
  test.each([
    ["empty", ""],
    ["version 2", "2.1.1.".concat("00".repeat(32), ".AA")],
    ["upper-case root", "1.1.1.".concat("AB".repeat(32), ".AA")],
    ["short root", "1.1.1.abcd.AA"],
    ["huge size", "1.9999999999999999.1.".concat("00".repeat(32), ".AA")],
    ["too long", "1.1.1.".concat("00".repeat(32), ".", "A".repeat(600))],
  ])("a malformed header is MALFORMED: %s", (_name, value) => {
    expect(() => decodeTreeHead(value)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });
  test("fingerprints are accepted as people write them", () => {
    const fp = "ab".repeat(32);
    expect(normalizeFingerprint(`SHA256:${"AB:".repeat(31)}AB`)).toBe(fp);
    expect(normalizeFingerprint(fp.toUpperCase())).toBe(fp);
    expect(normalizeFingerprint("abcd")).toBeUndefined();
  });
});

import { createHash } from "node:crypto";

/**
 * The Merkle tree of RFC 9162 (Certificate Transparency 2.0) section 2.1 with SHA-256: leaf hashes
 * SHA-256(0x00 || leaf input), interior nodes SHA-256(0x01 || left || right), the empty tree's hash SHA-256("").
 * Proof generation is written over ranges (which subtree hashes a proof holds), so a store of node hashes can answer
 * it without loading the tree; verification is RFC 9162 2.1.3.2 (inclusion) and 2.1.4.2 (consistency).
 * Hashes are 32-byte Buffers; sizes and indexes are non-negative safe integers.
 */

/** MTH({}): the hash of the empty tree, SHA-256 of no bytes. */
export const EMPTY_TREE_HASH: Buffer = createHash("sha256").digest();

/** The hash of a leaf: SHA-256(0x00 || input). */
export function leafHash(input: Uint8Array): Buffer {
  return createHash("sha256").update(Buffer.of(0)).update(input).digest();
}

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(Buffer.of(1)).update(left).update(right).digest();
}

/** The largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * A complete subtree of the log: the 2^level leaves from index * 2^level. Level 0 is a leaf. Every node the log
 * stores is one of these, and they never change once the tree has grown over them.
 */
export interface PerfectNode {
  level: number;
  index: number;
}

/** The leaves [start, end) of the tree, whose hash is MTH(D[start:end]). */
export interface LeafRange {
  start: number;
  end: number;
}

/**
 * The complete subtrees whose hashes, folded from the right (nodeHash(a, nodeHash(b, c))), give MTH(D[start:end]),
 * for a range as RFC 9162's recursion produces it (start a multiple of the largest power of two not above
 * end - start; every range of this module's proofs is one): the binary decomposition of its size, largest first.
 */
export function decompose(r: LeafRange): PerfectNode[] {
  const out: PerfectNode[] = [];
  let start = r.start;
  let size = r.end - r.start;
  while (size > 0) {
    let level = 0;
    while (2 ** (level + 1) <= size) level++;
    const width = 2 ** level;
    if (start % width !== 0) throw new RangeError(`range [${r.start}, ${r.end}) is not aligned`);
    out.push({ level, index: start / width });
    start += width;
    size -= width;
  }
  return out;
}

/** The hash of a range from the hashes of its decomposition (see decompose), in that order. */
export function foldRange(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return EMPTY_TREE_HASH;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/** The ranges whose hashes form PATH(m, D[n]) (RFC 9162 2.1.3.1), in proof order: the inclusion proof of leaf m. */
export function inclusionRanges(m: number, n: number): LeafRange[] {
  checkIndex(m, n);
  const out: LeafRange[] = [];
  const path = (m: number, start: number, n: number): void => {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, k);
      out.push({ start: start + k, end: start + n });
    } else {
      path(m - k, start + k, n - k);
      out.push({ start, end: start + k });
    }
  };
  path(m, 0, n);
  return out;
}

/**
 * The ranges whose hashes form PROOF(m, D[n]) (RFC 9162 2.1.4.1), in proof order: the consistency proof from the
 * tree of the first m leaves to the tree of n. Empty when m is 0 or m equals n.
 */
export function consistencyRanges(m: number, n: number): LeafRange[] {
  checkSizes(m, n);
  const out: LeafRange[] = [];
  if (m === 0 || m === n) return out;
  const sub = (m: number, start: number, n: number, b: boolean): void => {
    if (m === n) {
      if (!b) out.push({ start, end: start + n });
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, b);
      out.push({ start: start + k, end: start + n });
    } else {
      sub(m - k, start + k, n - k, false);
      out.push({ start, end: start + k });
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** RFC 9162 2.1.3.2: true when `proof` shows the leaf with hash `leaf` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 2.1.4.2: true when `proof` shows the tree of `size1` leaves with `root1` is a prefix of the tree of
 * `size2` leaves with `root2`. Equal sizes need an empty proof and equal roots; size1 0 (the empty tree) is a prefix
 * of every tree and needs an empty proof.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(root2);
  if (size1 === 0) return proof.length === 0 && Buffer.from(root1).equals(EMPTY_TREE_HASH);
  if (proof.length === 0) return false;
  const path = [...proof];
  if (isPowerOfTwo(size1)) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function checkIndex(m: number, n: number): void {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m >= n) {
    throw new RangeError(`leaf ${m} is not in a tree of ${n}`);
  }
}

function checkSizes(m: number, n: number): void {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) {
    throw new RangeError(`no consistency proof from ${m} to ${n} leaves`);
  }
}

/**
 * A tree kept as its right edge (the hashes of the complete subtrees of the binary decomposition of its size, largest
 * first): appends and the root in O(log n) memory, for recomputing a log while streaming it. `onNode` hears every
 * complete subtree as it is completed (leaves included), for comparing with a store.
 */
export class CompactTree {
  #size = 0;
  readonly #edge: { level: number; hash: Buffer }[] = [];

  constructor(private readonly onNode?: (node: PerfectNode, hash: Buffer) => void) {}

  /**
   * A tree of `size` leaves from its right edge: the hashes of decompose({ start: 0, end: size }), in that order
   * (what a store of complete subtrees holds). `onNode` hears the subtrees completed by later appends.
   */
  static resume(
    size: number,
    edge: readonly Buffer[],
    onNode?: (node: PerfectNode, hash: Buffer) => void,
  ): CompactTree {
    const nodes = decompose({ start: 0, end: size });
    if (nodes.length !== edge.length) throw new RangeError(`a tree of ${size} leaves has ${nodes.length} edge hashes`);
    const t = new CompactTree(onNode);
    t.#size = size;
    for (const [i, n] of nodes.entries()) t.#edge.push({ level: n.level, hash: edge[i]! });
    return t;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a leaf by its hash (leafHash of its input). */
  append(leaf: Buffer): void {
    let hash = leaf;
    let level = 0;
    let index = this.#size;
    this.onNode?.({ level, index }, hash);
    while (this.#edge.length > 0 && this.#edge[this.#edge.length - 1]!.level === level) {
      const left = this.#edge.pop()!;
      hash = nodeHash(left.hash, hash);
      level++;
      index = Math.floor(index / 2);
      this.onNode?.({ level, index }, hash);
    }
    this.#edge.push({ level, hash });
    this.#size++;
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    return foldRange(this.#edge.map((e) => e.hash));
  }
}

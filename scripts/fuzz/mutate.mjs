// Mutations for the fuzzer: byte-level (bit flips, interesting bytes, inserts, deletes, splices) and BER-aware
// ones on a parsed tree (duplicate, delete, swap or re-tag an element, grow or shrink a primitive, switch between
// definite and indefinite lengths), re-encoded with consistent lengths so that most mutants get past the outer
// layers and reach deep code.

const MAX_INPUT = 64 * 1024;
const INTERESTING = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x10, 0x1f, 0x20, 0x24, 0x30, 0x31, 0x7f, 0x80, 0x81, 0x82, 0x83,
  0x84, 0x85, 0x86, 0x87, 0x88, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xbf, 0xfe, 0xff,
];
const TAGS = [
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1e, 0x24, 0x30, 0x31, 0x80, 0x81, 0x82, 0xa0,
  0xa1, 0xa2, 0xa3, 0xa4, 0xbf,
];

/** xorshift32: deterministic from a seed, so a campaign can be replayed. */
export class Rng {
  constructor(seed) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next() {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x;
  }
  below(n) {
    return n <= 1 ? 0 : this.next() % n;
  }
  pick(a) {
    return a[this.below(a.length)];
  }
  chance(p) {
    return this.next() / 0x100000000 < p;
  }
}

/** Parses BER leniently into { tag: Buffer, ind: boolean, kids?: Node[], body?: Buffer }; undefined if not BER. */
export function parseTree(buf) {
  let nodes = 0;
  const parse = (b, pos, end, depth) => {
    if (depth > 48 || ++nodes > 4000) return undefined;
    const start = pos;
    if (pos >= end) return undefined;
    const first = b[pos++];
    if ((first & 0x1f) === 0x1f) {
      while (pos < end && b[pos] & 0x80) pos++;
      pos++;
    }
    if (pos >= end) return undefined;
    const tag = b.subarray(start, pos);
    const l0 = b[pos++];
    let len = -1;
    if (l0 < 0x80) len = l0;
    else if (l0 > 0x80) {
      const n = l0 & 0x7f;
      if (n > 4 || pos + n > end) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[pos++];
    }
    const constructed = (first & 0x20) !== 0;
    if (len < 0) {
      if (!constructed) return undefined;
      const kids = [];
      for (;;) {
        if (pos + 2 > end) return undefined;
        if (b[pos] === 0 && b[pos + 1] === 0) return [{ tag, ind: true, kids }, pos + 2];
        const r = parse(b, pos, end, depth + 1);
        if (!r) return undefined;
        kids.push(r[0]);
        pos = r[1];
      }
    }
    if (pos + len > end) return undefined;
    if (constructed) {
      const kids = [];
      let p = pos;
      while (p < pos + len) {
        const r = parse(b, p, pos + len, depth + 1);
        if (!r) return [{ tag, ind: false, body: b.subarray(pos, pos + len) }, pos + len];
        kids.push(r[0]);
        p = r[1];
      }
      return [{ tag, ind: false, kids }, pos + len];
    }
    return [{ tag, ind: false, body: b.subarray(pos, pos + len) }, pos + len];
  };
  const r = parse(buf, 0, buf.length, 0);
  if (!r) return undefined;
  return { root: r[0], rest: buf.subarray(r[1]) };
}

function lengthBytes(n) {
  if (n < 0x80) return [n];
  const out = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function encodeTree(node) {
  if (node.kids) {
    const inner = Buffer.concat(node.kids.map(encodeTree));
    if (node.ind) return Buffer.concat([node.tag, Buffer.from([0x80]), inner, Buffer.from([0, 0])]);
    return Buffer.concat([node.tag, Buffer.from(lengthBytes(inner.length)), inner]);
  }
  return Buffer.concat([node.tag, Buffer.from(lengthBytes(node.body.length)), node.body]);
}

function allNodes(root) {
  const out = [];
  const walk = (n, parent) => {
    out.push({ n, parent });
    if (n.kids) for (const k of n.kids) walk(k, n);
  };
  walk(root, undefined);
  return out;
}

export class Mutator {
  constructor(rng) {
    this.rng = rng;
  }

  /** One mutant of `buf` (`other` is another corpus entry for splices). */
  mutate(buf, other) {
    const r = this.rng;
    let out = buf;
    const rounds = 1 + r.below(r.chance(0.3) ? 6 : 2);
    for (let i = 0; i < rounds; i++) {
      out = r.chance(0.55)
        ? (this.treeMutation(out, other) ?? this.byteMutation(out, other))
        : this.byteMutation(out, other);
      if (out.length > MAX_INPUT) out = out.subarray(0, MAX_INPUT);
    }
    return out;
  }

  byteMutation(buf, other) {
    const r = this.rng;
    const b = Buffer.from(buf);
    const at = () => r.below(b.length);
    switch (r.below(9)) {
      case 0:
        if (b.length) b[at()] ^= 1 << r.below(8);
        return b;
      case 1:
        if (b.length) b[at()] = r.pick(INTERESTING);
        return b;
      case 2:
        if (b.length) b[at()] = r.below(256);
        return b;
      case 3: {
        if (!b.length) return b;
        const s = at();
        return Buffer.concat([b.subarray(0, s), b.subarray(s + 1 + r.below(Math.min(64, b.length - s)))]);
      }
      case 4: {
        const s = r.below(b.length + 1);
        const ins = Buffer.alloc(1 + r.below(8));
        for (let i = 0; i < ins.length; i++) ins[i] = r.chance(0.5) ? r.pick(INTERESTING) : r.below(256);
        return Buffer.concat([b.subarray(0, s), ins, b.subarray(s)]);
      }
      case 5: {
        if (!b.length) return b;
        const s = at();
        const chunk = b.subarray(s, s + 1 + r.below(256));
        const times = 1 + r.below(r.chance(0.1) ? 200 : 4);
        return Buffer.concat([b.subarray(0, s), ...Array(times).fill(chunk), b.subarray(s)]);
      }
      case 6: {
        if (!other?.length || !b.length) return b;
        const s = at();
        const o = r.below(other.length);
        return Buffer.concat([b.subarray(0, s), other.subarray(o, o + r.below(other.length - o + 1))]);
      }
      case 7:
        return b.subarray(0, r.below(b.length + 1));
      default: {
        if (b.length < 2) return b;
        const s = at();
        const w = r.pick([2, 4]);
        if (s + w > b.length) return b;
        const v = r.pick([0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0xffffffff]);
        if (w === 2) b.writeUInt16BE(v & 0xffff, s);
        else b.writeUInt32BE(v >>> 0, s);
        return b;
      }
    }
  }

  treeMutation(buf, other) {
    const r = this.rng;
    const t = parseTree(buf);
    if (!t) return undefined;
    const nodes = allNodes(t.root);
    const { n, parent } = r.pick(nodes);
    switch (r.below(10)) {
      case 0: // duplicate an element (sometimes many times)
        if (!parent) return undefined;
        parent.kids.splice(parent.kids.indexOf(n), 0, ...Array(r.chance(0.1) ? 1 + r.below(300) : 1).fill(n));
        break;
      case 1: // delete an element
        if (!parent) return undefined;
        parent.kids.splice(parent.kids.indexOf(n), 1);
        break;
      case 2: {
        // swap two siblings
        if (!parent || parent.kids.length < 2) return undefined;
        const i = r.below(parent.kids.length);
        const j = r.below(parent.kids.length);
        [parent.kids[i], parent.kids[j]] = [parent.kids[j], parent.kids[i]];
        break;
      }
      case 3: // re-tag, keeping constructed-ness when possible
        n.tag = Buffer.from([n.kids ? r.pick(TAGS) | 0x20 : r.pick(TAGS) & ~0x20]);
        break;
      case 4: // definite <-> indefinite
        if (!n.kids) return undefined;
        n.ind = !n.ind;
        break;
      case 5: {
        // change a primitive's content
        if (!n.body) return undefined;
        const b = this.byteMutation(n.body, other);
        n.body = b;
        break;
      }
      case 6: {
        // small integer-like content: interesting values
        if (!n.body) return undefined;
        n.body = Buffer.from(
          r.pick([[0], [1], [2], [3], [4], [5], [0x80], [0xff], [0, 0x80], [0x7f, 0xff, 0xff, 0xff], []]),
        );
        break;
      }
      case 7: {
        // graft an element of another input
        const o = other && parseTree(other);
        if (!o || !parent) return undefined;
        const graft = r.pick(allNodes(o.root)).n;
        parent.kids.splice(r.below(parent.kids.length + 1), 0, graft);
        break;
      }
      case 8: {
        // split a primitive OCTET STRING into constructed segments
        if (!n.body || (n.tag[0] & 0x1f) !== 0x04) return undefined;
        const kids = [];
        const step = 1 + r.below(Math.max(1, n.body.length));
        for (let i = 0; i < n.body.length; i += step) {
          kids.push({ tag: Buffer.from([0x04]), ind: false, body: n.body.subarray(i, i + step) });
        }
        n.tag = Buffer.from([n.tag[0] | 0x20]);
        n.kids = kids;
        n.ind = r.chance(0.5);
        delete n.body;
        break;
      }
      default: {
        // wrap an element in a new constructed one
        if (!parent) return undefined;
        const i = parent.kids.indexOf(n);
        parent.kids[i] = { tag: Buffer.from([r.pick(TAGS) | 0x20]), ind: r.chance(0.3), kids: [n] };
      }
    }
    return Buffer.concat([encodeTree(t.root), t.rest]);
  }
}

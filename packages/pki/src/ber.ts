/**
 * Bounded BER/DER decoding of small, fully buffered structures (certificates, names, CRLs, OCSP responses,
 * RecipientInfos, SignerInfos, attributes). Every decode states its limits: the largest input, the most elements
 * (nodes) and the deepest nesting it accepts, so hostile input costs time and memory linear in the limits, never in
 * what the input claims. Decoding is one pass over the bytes; a node keeps offsets into the input and makes its
 * `raw` and `content` views only when asked.
 *
 * `scanBer` checks the same limits without building anything: callers run it before handing bytes to a heavier
 * parser (asn1js/pkijs).
 */

/** Limits of one decode. */
export interface BerLimits {
  /** Largest input accepted, in bytes. */
  maxBytes: number;
  /** Most elements decoded (every TLV counts, primitive or constructed). */
  maxNodes: number;
  /** Deepest nesting (the outer element is depth 0). Default 64. */
  maxDepth?: number;
}

/** Why a decode failed: `malformed` encoding, or a `limit` exceeded (bytes, nodes or depth). */
export class BerError extends Error {
  constructor(
    message: string,
    readonly reason: "malformed" | "limit",
  ) {
    super(message);
    this.name = "BerError";
  }
}

// Shared by every primitive node (frozen: a push is a bug and throws).
const NO_CHILDREN = Object.freeze([]) as unknown as BerNode[];

/** A decoded element: offsets into the input; `raw` and `content` are views made on access. */
export class BerNode {
  constructor(
    /** The input the node was decoded from. */
    readonly buf: Buffer,
    /** Offset of the identifier octet. */
    readonly start: number,
    readonly contentStart: number,
    /** End of the content (before the end-of-contents octets of an indefinite element). */
    readonly contentEnd: number,
    /** End of the element (after the end-of-contents octets of an indefinite element). */
    readonly end: number,
    /** First identifier octet (class | constructed | number; a high tag number leaves 0x1f in the low bits). */
    readonly tag: number,
    readonly tagNumber: number,
    readonly indefinite: boolean,
    /** Children of a constructed element, in order (empty for primitive ones). */
    readonly children: BerNode[],
  ) {}

  /** Class bits of the identifier octet (0x00 universal, 0x40 application, 0x80 context, 0xc0 private). */
  get cls(): number {
    return this.tag & 0xc0;
  }

  get constructed(): boolean {
    return (this.tag & 0x20) !== 0;
  }

  /** The exact encoding, header included. */
  get raw(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Primitive: the value. Constructed: the encodings of the children (without end-of-contents). */
  get content(): Buffer {
    return this.buf.subarray(this.contentStart, this.contentEnd);
  }
}

interface Walk {
  nodes: number;
  maxNodes: number;
  maxDepth: number;
  build: boolean;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function start(bytes: Uint8Array, limits: BerLimits, build: boolean): { b: Buffer; w: Walk } {
  if (bytes.byteLength > limits.maxBytes) {
    throw new BerError(`${bytes.byteLength} bytes is more than the limit of ${limits.maxBytes}`, "limit");
  }
  return {
    b: asBuffer(bytes),
    w: { nodes: 0, maxNodes: limits.maxNodes, maxDepth: limits.maxDepth ?? 64, build },
  };
}

/**
 * Decodes exactly one element covering all of `bytes` (trailing bytes: BerError malformed). `stats.nodes`, when
 * given, receives the number of elements decoded.
 */
export function decodeBer(bytes: Uint8Array, limits: BerLimits, stats?: { nodes: number }): BerNode {
  const { b, w } = start(bytes, limits, true);
  if (b.length === 0) throw new BerError("no data", "malformed");
  const [node, end] = walk(b, 0, b.length, 0, w);
  if (end !== b.length) throw new BerError("unexpected bytes after the structure", "malformed");
  if (stats) stats.nodes = w.nodes;
  return node!;
}

/** Decodes the elements of `bytes` one after the other (e.g. the content of a SET). */
export function decodeBerAll(bytes: Uint8Array, limits: BerLimits): BerNode[] {
  const { b, w } = start(bytes, limits, true);
  const out: BerNode[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [node, end] = walk(b, pos, b.length, 0, w);
    out.push(node!);
    pos = end;
  }
  return out;
}

/**
 * Checks that `bytes` is exactly one well-formed element within `limits`, building nothing; returns the number of
 * elements. Throws BerError.
 */
export function scanBer(bytes: Uint8Array, limits: BerLimits): number {
  const { b, w } = start(bytes, limits, false);
  if (b.length === 0) throw new BerError("no data", "malformed");
  const [, end] = walk(b, 0, b.length, 0, w);
  if (end !== b.length) throw new BerError("unexpected bytes after the structure", "malformed");
  return w.nodes;
}

/** One element at `pos` (not beyond `limit`); returns it (when building) and the offset after it. */
function walk(b: Buffer, pos: number, limit: number, depth: number, w: Walk): [BerNode | undefined, number] {
  if (depth > w.maxDepth) throw new BerError(`structures nested more than ${w.maxDepth} deep`, "limit");
  if (++w.nodes > w.maxNodes) throw new BerError(`more than ${w.maxNodes} elements`, "limit");
  const start = pos;
  if (pos >= limit) throw new BerError("a structure is cut short", "malformed");
  const tag = b[pos++]!;
  let tagNumber = tag & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (;;) {
      if (pos >= limit) throw new BerError("a tag is cut short", "malformed");
      const x = b[pos++]!;
      tagNumber = tagNumber * 128 + (x & 0x7f);
      if (tagNumber > 0x1fffffff) throw new BerError("a tag number is too large", "malformed");
      if (!(x & 0x80)) break;
    }
  }
  if (pos >= limit) throw new BerError("a length is cut short", "malformed");
  const first = b[pos++]!;
  let length = -1;
  if (first < 0x80) length = first;
  else if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 6) throw new BerError("a length field is too large", "malformed");
    if (pos + n > limit) throw new BerError("a length is cut short", "malformed");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[pos++]!;
  }
  const constructed = (tag & 0x20) !== 0;
  const contentStart = pos;
  let children: BerNode[] | undefined;
  let contentEnd: number;
  let end: number;
  if (length >= 0) {
    end = pos + length;
    if (end > limit) throw new BerError("a structure is longer than its container", "malformed");
    contentEnd = end;
    if (constructed) {
      if (w.build) children = [];
      let p = pos;
      while (p < end) {
        const [child, childEnd] = walk(b, p, end, depth + 1, w);
        if (children) children.push(child!);
        p = childEnd;
      }
    }
  } else {
    if (!constructed) throw new BerError("a primitive element with indefinite length", "malformed");
    if (w.build) children = [];
    let p = pos;
    for (;;) {
      if (p + 2 > limit) throw new BerError("an indefinite-length structure is not terminated", "malformed");
      if (b[p] === 0 && b[p + 1] === 0) break;
      const [child, childEnd] = walk(b, p, limit, depth + 1, w);
      if (children) children.push(child!);
      p = childEnd;
    }
    contentEnd = p;
    end = p + 2;
  }
  if (!w.build) return [undefined, end];
  return [
    new BerNode(b, start, contentStart, contentEnd, end, tag, tagNumber, length < 0, children ?? NO_CHILDREN),
    end,
  ];
}

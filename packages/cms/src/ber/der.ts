import { CmsError } from "../errors.js";

/**
 * DER encoding and BER decoding of small, fully buffered structures (RecipientInfos, SignerInfos, attributes,
 * algorithm identifiers). The streaming byte path uses ./writer.ts and ./reader.ts instead.
 */

/** Universal tags used by sealpost. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** DER length octets. */
export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  let n = len;
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER TLV with a single-byte tag (all tags sealpost writes are below 31). */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export const seq = (...content: Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...content);

/** DER SET OF: elements sorted by their encodings (X.690 11.6). */
export function setOf(elements: Uint8Array[]): Buffer {
  const sorted = [...elements].map((e) => Buffer.from(e)).sort(Buffer.compare);
  return tlv(TAG.SET, ...sorted);
}

export function encodeOid(oid: string): Buffer {
  const parts = oid.split(".").map((p) => BigInt(p));
  if (parts.length < 2) throw new TypeError(`bad OID ${oid}`);
  const first = parts[0]! * 40n + parts[1]!;
  const out: number[] = [];
  for (const arc of [first, ...parts.slice(2)]) {
    const group: number[] = [];
    let v = arc;
    do {
      group.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < group.length - 1; i++) group[i]! |= 0x80;
    out.push(...group);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

export function decodeOid(content: Uint8Array): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    } else if (i === content.length - 1) {
      throw malformed("an object identifier is cut short");
    }
  }
  if (arcs.length === 0) throw malformed("an empty object identifier");
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join(".");
}

/** DER INTEGER from a non-negative number or bigint, or from unsigned big-endian bytes. */
export function encodeInteger(value: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    bytes = bytes.subarray(i);
  } else {
    let hex = BigInt(value).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, "hex");
  }
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.INTEGER, bytes);
}

export function decodeInteger(content: Uint8Array): bigint {
  if (content.length === 0) throw malformed("an empty INTEGER");
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  if (content[0]! & 0x80) v -= 1n << BigInt(content.length * 8);
  return v;
}

export const octetString = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8String, Buffer.from(s, "utf8"));
export const NULL_DER = Buffer.from([0x05, 0x00]);

/** UTCTime for 1950..2049 (RFC 5280 4.1.2.5), GeneralizedTime otherwise; whole seconds, "Z". */
export function encodeTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTCTime, Buffer.from(`${p(y % 100)}${rest}`, "ascii"));
  return tlv(TAG.GeneralizedTime, Buffer.from(`${String(y).padStart(4, "0")}${rest}`, "ascii"));
}

export function decodeTime(node: Node): Date {
  const s = node.content.toString("ascii");
  const utc = node.tag === TAG.UTCTime ? s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/) : null;
  const gen = node.tag === TAG.GeneralizedTime ? s.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?Z$/) : null;
  if (utc) {
    const m = utc;
    const yy = Number(m[1]);
    const y = yy < 50 ? 2000 + yy : 1900 + yy;
    return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  if (gen) {
    const m = gen;
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms),
    );
  }
  throw malformed("a time value is not a valid UTCTime or GeneralizedTime");
}

/** A decoded BER element. `raw` is the exact encoding (header included), `content` the value octets. */
export interface Node {
  /** Identifier octet for low tag numbers (class | constructed | number); high tag numbers give tagNumber >= 31. */
  tag: number;
  cls: number;
  constructed: boolean;
  tagNumber: number;
  raw: Buffer;
  /** Primitive: the value. Constructed: the concatenated encodings of the children (indefinite: without EOC). */
  content: Buffer;
  children: Node[];
  indefinite: boolean;
}

export function malformed(what: string, cause?: unknown): CmsError {
  return new CmsError("MALFORMED", `The file is not a valid CMS structure: ${what}.`, {
    cause,
    hint: "The file may be damaged or not a sealed file at all; ask the sender to send it again.",
  });
}

/** Decode exactly one element from `buf` (trailing bytes => MALFORMED). Handles definite and indefinite lengths. */
export function decode(buf: Uint8Array): Node {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const [node, end] = decodeAt(b, 0, 0);
  if (end !== b.length) throw malformed("unexpected bytes after a structure");
  return node;
}

/** Decode the elements in `buf` one after the other (the content of a SET or SEQUENCE). */
export function decodeAll(buf: Uint8Array): Node[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Node[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [node, end] = decodeAt(b, pos, 0);
    out.push(node);
    pos = end;
  }
  return out;
}

function decodeAt(b: Buffer, start: number, depth: number): [Node, number] {
  if (depth > 64) throw malformed("structures nested too deeply");
  let pos = start;
  if (pos >= b.length) throw malformed("a structure is cut short");
  const tag = b[pos++]!;
  const cls = tag & 0xc0;
  const constructed = (tag & 0x20) !== 0;
  let tagNumber = tag & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (;;) {
      if (pos >= b.length) throw malformed("a tag is cut short");
      const x = b[pos++]!;
      tagNumber = tagNumber * 128 + (x & 0x7f);
      if (tagNumber > 0x1fffffff) throw malformed("a tag number is too large");
      if (!(x & 0x80)) break;
    }
  }
  if (pos >= b.length) throw malformed("a length is cut short");
  const first = b[pos++]!;
  let length = -1;
  if (first < 0x80) length = first;
  else if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 6) throw malformed("a length is too large");
    if (pos + n > b.length) throw malformed("a length is cut short");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[pos++]!;
  }
  const children: Node[] = [];
  let content: Buffer;
  let end: number;
  if (length >= 0) {
    end = pos + length;
    if (end > b.length) throw malformed("a structure is longer than the data");
    content = b.subarray(pos, end);
    if (constructed) {
      let p = pos;
      while (p < end) {
        const [child, childEnd] = decodeAt(b, p, depth + 1);
        if (childEnd > end) throw malformed("an element overruns its parent");
        children.push(child);
        p = childEnd;
      }
    }
  } else {
    if (!constructed) throw malformed("a primitive element with indefinite length");
    let p = pos;
    for (;;) {
      if (p + 2 > b.length) throw malformed("an indefinite-length structure is not terminated");
      if (b[p] === 0 && b[p + 1] === 0) break;
      const [child, childEnd] = decodeAt(b, p, depth + 1);
      children.push(child);
      p = childEnd;
    }
    content = b.subarray(pos, p);
    end = p + 2;
  }
  const node: Node = {
    tag,
    cls,
    constructed,
    tagNumber,
    raw: b.subarray(start, end),
    content,
    children,
    indefinite: length < 0,
  };
  return [node, end];
}

/** The bytes of an OCTET STRING node, primitive or constructed (BER segments concatenated). */
export function octets(node: Node): Buffer {
  if (!node.constructed) return node.content;
  return Buffer.concat(node.children.map(octets));
}

/** Child `i` of a constructed node, or MALFORMED naming `what`. */
export function child(node: Node, i: number, what: string): Node {
  const c = node.children[i];
  if (!c) throw malformed(`${what} is missing`);
  return c;
}

export function expectTag(node: Node, tag: number, what: string): Node {
  if (node.tag !== tag) throw malformed(`${what} has an unexpected type`);
  return node;
}

/** Re-encode a node with another identifier octet (e.g. [0] IMPLICIT SET -> SET for signed attributes). */
export function retag(node: Node, tag: number): Buffer {
  return tlv(tag, node.content);
}

import { BerError, type BerLimits, type BerNode, decodeBer, decodeBerAll } from "@sealpost/pki";
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

/** A decoded BER element (see @sealpost/pki BerNode): `raw` is the exact encoding, `content` the value octets. */
export type Node = BerNode;

export function malformed(what: string, cause?: unknown): CmsError {
  return new CmsError("MALFORMED", `The file is not a valid CMS structure: ${what}.`, {
    cause,
    hint: "The file may be damaged or not a sealed file at all; ask the sender to send it again.",
  });
}

/** Limits of a small structure decoded whole (default: 16 MiB and 20,000 elements, nesting 64 deep). */
export const SMALL_STRUCTURE: BerLimits = { maxBytes: 16 * 1024 * 1024, maxNodes: 20_000, maxDepth: 64 };

function fromBerError(e: unknown, what: string | undefined): never {
  if (e instanceof BerError) {
    throw malformed(what ? `${what}: ${e.message}` : e.message === "no data" ? "a structure is cut short" : e.message);
  }
  throw e;
}

/**
 * Decode exactly one element from `buf` within `limits` (trailing bytes, or a limit exceeded => MALFORMED naming
 * `what`). Handles definite and indefinite lengths.
 */
export function decode(
  buf: Uint8Array,
  limits: BerLimits = SMALL_STRUCTURE,
  what?: string,
  stats?: { nodes: number },
): Node {
  try {
    return decodeBer(buf, limits, stats);
  } catch (e) {
    return fromBerError(e, what);
  }
}

/** Decode the elements in `buf` one after the other (the content of a SET or SEQUENCE), within `limits`. */
export function decodeAll(buf: Uint8Array, limits: BerLimits = SMALL_STRUCTURE, what?: string): Node[] {
  try {
    return decodeBerAll(buf, limits);
  } catch (e) {
    return fromBerError(e, what);
  }
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

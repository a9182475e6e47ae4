import { BerError, type BerLimits, type BerNode, decodeBer } from "../ber.js";

/**
 * Small helpers over the bounded BER decoder (../ber.ts), so the trust code reads certificates, CRLs and OCSP
 * structures field by field with exact control over what is accepted. Every reader throws DerError on a shape it
 * does not expect (or a decode over its limits); the callers turn that into a PkiError that names the structure.
 */
export class DerError extends Error {}

export type Node = BerNode;

export const UNIVERSAL = 1;
export const CONTEXT = 3;

/** Limits of one certificate: 64 KiB and 8,192 elements (real ones have a few hundred). */
export const CERT_LIMITS: BerLimits = { maxBytes: 64 * 1024, maxNodes: 8192 };
/** Limits of one CRL: 32 MiB and 400,000 elements (50,000 entries with a reason code each; 61 MB of heap decoded). */
export const CRL_LIMITS: BerLimits = { maxBytes: 32 * 1024 * 1024, maxNodes: 400_000 };
/** Limits of one OCSP response (with its responder certificates): 1 MiB and 20,000 elements. */
export const OCSP_LIMITS: BerLimits = { maxBytes: 1024 * 1024, maxNodes: 20_000 };
/** Limits of the small structures inside those (extension values, names, parameters): 1 MiB, 20,000 elements. */
export const SMALL_LIMITS: BerLimits = { maxBytes: 1024 * 1024, maxNodes: 20_000 };

/** Decodes exactly one DER/BER element covering all of `bytes`, within `limits`. */
export function decode(bytes: Uint8Array, limits: BerLimits = SMALL_LIMITS): Node {
  try {
    return decodeBer(bytes, limits);
  } catch (e) {
    if (e instanceof BerError) throw new DerError(`malformed encoding (${e.message})`);
    throw e;
  }
}

export function tagClass(n: Node): number {
  return (n.cls >> 6) + 1;
}
export function tagNumber(n: Node): number {
  return n.tagNumber;
}
export function isConstructed(n: Node): boolean {
  return n.constructed;
}
/** True for a universal-class element of the given tag number. */
export function isUniversal(n: Node | undefined, num: number): boolean {
  return n !== undefined && tagClass(n) === UNIVERSAL && tagNumber(n) === num;
}
/** True for a context-specific [num] element. */
export function isContext(n: Node | undefined, num: number): boolean {
  return n !== undefined && tagClass(n) === CONTEXT && tagNumber(n) === num;
}

/** The complete encoding (tag, length, content) of `n`. */
export function raw(n: Node | undefined): Uint8Array {
  if (!n) throw new DerError("an element is missing");
  return new Uint8Array(n.raw);
}

/** The content octets of a primitive element. */
export function content(n: Node | undefined): Uint8Array {
  if (!n) throw new DerError("an element is missing");
  if (isConstructed(n)) throw new DerError("expected a primitive element");
  return new Uint8Array(n.content);
}

/** The children of a constructed element (SEQUENCE, SET, [n] EXPLICIT or IMPLICIT constructed). */
export function kids(n: Node | undefined): Node[] {
  if (!n) throw new DerError("an element is missing");
  if (!isConstructed(n)) throw new DerError("expected a constructed element");
  return n.children;
}

export function expectSeq(n: Node | undefined, what: string): Node[] {
  if (n === undefined || !isUniversal(n, 16)) throw new DerError(`${what}: expected a SEQUENCE`);
  return kids(n);
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function oidOf(n: Node | undefined, what = "OID"): string {
  if (n === undefined || !isUniversal(n, 6)) throw new DerError(`${what}: expected an OBJECT IDENTIFIER`);
  return oidFromContent(content(n));
}

export function oidFromContent(c: Uint8Array): string {
  if (c.length === 0) throw new DerError("empty OBJECT IDENTIFIER");
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i] as number;
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new DerError("truncated OBJECT IDENTIFIER");
  }
  const first = parts[0] as number;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join(".");
}

/** INTEGER content as a bigint (two's complement). */
export function intOf(n: Node | undefined, what = "INTEGER"): bigint {
  if (n === undefined || !isUniversal(n, 2)) throw new DerError(`${what}: expected an INTEGER`);
  return bigintFromTwos(content(n));
}

export function bigintFromTwos(c: Uint8Array): bigint {
  if (c.length === 0) throw new DerError("empty INTEGER");
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (((c[0] as number) & 0x80) !== 0) v -= 1n << BigInt(c.length * 8);
  return v;
}

export function boolOf(n: Node | undefined): boolean {
  if (n === undefined || !isUniversal(n, 1)) throw new DerError("expected a BOOLEAN");
  const c = content(n);
  if (c.length !== 1) throw new DerError("bad BOOLEAN");
  return c[0] !== 0;
}

/** BIT STRING: the bits as bytes, and how many trailing bits are unused. */
export function bitsOf(n: Node | undefined, what = "BIT STRING"): { bytes: Uint8Array; unused: number } {
  if (n === undefined || !isUniversal(n, 3)) throw new DerError(`${what}: expected a BIT STRING`);
  const c = content(n);
  if (c.length === 0) throw new DerError(`${what}: empty BIT STRING`);
  const unused = c[0] as number;
  if (unused > 7) throw new DerError(`${what}: bad unused-bits count`);
  return { bytes: c.subarray(1), unused };
}

/** Tests bit `i` (0 = most significant bit of the first byte) of a named-bit BIT STRING. */
export function bitSet(bytes: Uint8Array, i: number): boolean {
  const byte = bytes[i >> 3];
  return byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0;
}

export function octetsOf(n: Node | undefined, what = "OCTET STRING"): Uint8Array {
  if (n === undefined || !isUniversal(n, 4)) throw new DerError(`${what}: expected an OCTET STRING`);
  return content(n);
}

/** UTCTime or GeneralizedTime to a Date (RFC 5280 4.1.2.5 rules for UTCTime years). */
export function timeOf(n: Node | undefined, what = "time"): Date {
  if (n === undefined) throw new DerError(`${what}: missing`);
  const s = new TextDecoder("latin1").decode(content(n));
  let m: RegExpExecArray | null;
  if (isUniversal(n, 23)) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s);
    if (!m) throw new DerError(`${what}: bad UTCTime "${s}"`);
    const yy = Number(m[1]);
    const year = yy >= 50 ? 1900 + yy : 2000 + yy;
    return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  if (isUniversal(n, 24)) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s);
    if (!m) throw new DerError(`${what}: bad GeneralizedTime "${s}"`);
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms),
    );
  }
  throw new DerError(`${what}: expected UTCTime or GeneralizedTime`);
}

/** Decodes an ASN.1 character string (PrintableString, UTF8String, BMPString ...) to text, or undefined. */
export function stringOf(n: Node): string | undefined {
  if (tagClass(n) !== UNIVERSAL || isConstructed(n)) return undefined;
  const c = content(n);
  switch (tagNumber(n)) {
    case 12:
      return new TextDecoder("utf-8", { fatal: false }).decode(c);
    case 18: // NumericString
    case 19: // PrintableString
    case 22: // IA5String
    case 26: // VisibleString
    case 20: // TeletexString (treated as latin1)
    case 27: // GeneralString
      return new TextDecoder("latin1").decode(c);
    case 30: {
      let s = "";
      for (let i = 0; i + 1 < c.length; i += 2)
        s += String.fromCharCode(((c[i] as number) << 8) | (c[i + 1] as number));
      return s;
    }
    case 28: {
      let s = "";
      for (let i = 0; i + 3 < c.length; i += 4) {
        const cp =
          (((c[i] as number) << 24) |
            ((c[i + 1] as number) << 16) |
            ((c[i + 2] as number) << 8) |
            (c[i + 3] as number)) >>>
          0;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new DerError("invalid UniversalString character");
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return undefined;
  }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

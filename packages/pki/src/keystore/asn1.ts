import * as asn1js from "asn1js";
import { type BerLimits, scanBer } from "../ber.js";
import { PkiError } from "../errors.js";

/**
 * Small strict helpers over asn1js for the keystore parsers. Every failure is PkiError MALFORMED naming `what`, so a
 * damaged keystore never surfaces as a TypeError.
 */

export type Block = asn1js.AsnType;

export function malformed(what: string, cause?: unknown): PkiError {
  return new PkiError("MALFORMED", `The ${what} is damaged or not in a format sealpost reads.`, {
    cause,
    hint: "Export the keystore again from its source (card software, CA portal or openssl).",
  });
}

/**
 * Limits of one keystore structure (checked before asn1js sees it): 8 MiB and 50,000 elements. A PKCS#12 file with
 * a key and a chain of certificates has a few hundred.
 */
export const KEYSTORE_LIMITS: BerLimits = { maxBytes: 8 * 1024 * 1024, maxNodes: 50_000, maxDepth: 64 };

/** Decodes exactly one BER/DER element filling all of `bytes` (resource-bounded for untrusted input). */
export function decode(bytes: Uint8Array, what: string): Block {
  let r: ReturnType<typeof asn1js.fromBER>;
  try {
    scanBer(bytes, KEYSTORE_LIMITS);
    r = asn1js.fromBER(bytes, { maxDepth: 64, maxNodes: KEYSTORE_LIMITS.maxNodes });
  } catch (e) {
    throw malformed(what, e);
  }
  if (r.offset === -1 || r.offset !== bytes.length || r.result.error) throw malformed(what);
  return r.result;
}

/** The children of a SEQUENCE (or SET when `set`), checking the count bounds. */
export function children(b: Block | undefined, what: string, min = 0, max = Number.POSITIVE_INFINITY): Block[] {
  if (!(b instanceof asn1js.Sequence) && !(b instanceof asn1js.Set)) throw malformed(what);
  const v = b.valueBlock.value;
  if (v.length < min || v.length > max) throw malformed(what);
  return v;
}

export function oid(b: Block | undefined, what: string): string {
  if (!(b instanceof asn1js.ObjectIdentifier)) throw malformed(what);
  return b.valueBlock.toString();
}

/** A small non-negative INTEGER as a number (iteration counts, versions, lengths). */
export function smallInt(b: Block | undefined, what: string): number {
  if (!(b instanceof asn1js.Integer)) throw malformed(what);
  const bytes = b.valueBlock.valueHexView;
  if (bytes.length === 0 || bytes.length > 6 || (bytes[0]! & 0x80) !== 0) throw malformed(what);
  let n = 0;
  for (const x of bytes) n = n * 256 + x;
  return n;
}

/** Content octets of the element (header skipped); for primitive elements only. */
export function primitiveContent(b: Block): Uint8Array {
  return b.valueBeforeDecodeView.subarray(b.idBlock.blockLength + b.lenBlock.blockLength);
}

/**
 * The octets of an OCTET STRING, primitive or constructed (BER: one level of primitive segments). Also accepts an
 * implicitly tagged string (context class) when `implicit` is set. Nested constructed segments are refused, as
 * OpenSSL 3 and BoringSSL do.
 */
export function octets(b: Block | undefined, what: string, implicit = false): Uint8Array {
  if (!b) throw malformed(what);
  const universalOctet = b.idBlock.tagClass === 1 && b.idBlock.tagNumber === 4;
  if (!universalOctet && !(implicit && b.idBlock.tagClass === 3)) throw malformed(what);
  if (!b.idBlock.isConstructed) {
    if (b instanceof asn1js.OctetString) return b.valueBlock.valueHexView;
    return primitiveContent(b);
  }
  const parts = (b.valueBlock as unknown as { value?: Block[] }).value ?? [];
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    if (p.idBlock.tagClass !== 1 || p.idBlock.tagNumber !== 4 || p.idBlock.isConstructed) throw malformed(what);
    chunks.push(p instanceof asn1js.OctetString ? p.valueBlock.valueHexView : primitiveContent(p));
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** The single element inside an [n] EXPLICIT context tag. */
export function explicit(b: Block | undefined, tag: number, what: string): Block {
  if (b?.idBlock.tagClass !== 3 || b.idBlock.tagNumber !== tag || !b.idBlock.isConstructed) throw malformed(what);
  const v = (b.valueBlock as unknown as { value?: Block[] }).value ?? [];
  if (v.length !== 1) throw malformed(what);
  return v[0]!;
}

/** An AlgorithmIdentifier: its OID and parameters block (undefined when absent). */
export function algorithm(b: Block | undefined, what: string): { oid: string; params: Block | undefined } {
  const c = children(b, what, 1, 2);
  return { oid: oid(c[0], what), params: c[1] };
}

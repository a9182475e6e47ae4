import type { TransferManifest } from "@sealpost/protocol";
import { OID_TRANSFER_MANIFEST } from "@sealpost/protocol/core";
import { type Node, TAG, decode, decodeInteger, encodeInteger, malformed, seq, tlv } from "./ber/der.js";

/**
 * The transfer-manifest signed attribute: binds a sealed file to its case. Attribute type OID_TRANSFER_MANIFEST
 * (@sealpost/protocol, under sealpost's private arc), exactly one value:
 *
 * ```asn1
 * SealpostManifest DEFINITIONS IMPLICIT TAGS ::= BEGIN
 *   -- id-sealpost-transferManifest ::= { 2 25 268489201638532013468901130321964757583 1 1 }
 *   TransferManifest ::= SEQUENCE {
 *     caseId          [0] UTF8String OPTIONAL,
 *     senderAgency    [1] UTF8String OPTIONAL,
 *     receivingAgency [2] UTF8String OPTIONAL,
 *     fileName        [3] UTF8String OPTIONAL,
 *     byteSize        [4] INTEGER (0..MAX) OPTIONAL,
 *     recordCount     [5] INTEGER (0..MAX) OPTIONAL,
 *     uploadNo        [6] UTF8String OPTIONAL,
 *     recipients      [7] SET (SIZE (1..1000)) OF OCTET STRING (SIZE (32)) OPTIONAL,
 *                         -- SHA-256 of the DER of each recipient's encryption certificate
 *     ... }
 * END
 * ```
 *
 * Fields appear in tag order, absent ones are omitted; unknown higher tags are ignored on reading (extensible), so
 * readers that predate `recipients` read the other fields unchanged.
 */
export const MANIFEST_ATTRIBUTE_OID = OID_TRANSFER_MANIFEST;

const STRING_FIELDS = [
  "caseId",
  "senderAgency",
  "receivingAgency",
  "fileName",
  undefined,
  undefined,
  "uploadNo",
] as const;
const INT_FIELDS: Record<number, "byteSize" | "recordCount"> = { 4: "byteSize", 5: "recordCount" };

/** DER of a TransferManifest value. */
export function encodeManifest(m: TransferManifest): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i <= 6; i++) {
    const sf = STRING_FIELDS[i];
    const inf = INT_FIELDS[i];
    if (sf && m[sf] !== undefined) parts.push(tlv(0x80 | i, Buffer.from(String(m[sf]), "utf8")));
    if (inf && m[inf] !== undefined) {
      const v = m[inf]!;
      if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`manifest ${inf} must be a non-negative integer`);
      parts.push(tlv(0x80 | i, encodeInteger(v).subarray(2)));
    }
  }
  if (m.recipients !== undefined) {
    const hashes = [...new Set(m.recipients.map((h) => h.toLowerCase()))].map((h) => Buffer.from(h, "hex"));
    if (hashes.length === 0 || hashes.length > MAX_RECIPIENTS || hashes.some((h) => h.length !== 32)) {
      throw new TypeError("manifest recipients must be 1 to 1000 SHA-256 hashes (64 hex digits)");
    }
    // [7] IMPLICIT SET OF: the DER elements sorted (X.690 11.6)
    parts.push(tlv(0xa7, ...hashes.map((h) => tlv(TAG.OCTET_STRING, h)).sort(Buffer.compare)));
  }
  return seq(...parts);
}

/** Most recipient hashes a manifest may carry (as many as a file may have recipients). */
const MAX_RECIPIENTS = 1000;

/** Parse a TransferManifest value (MALFORMED when it is not one). */
export function decodeManifest(value: Node | Uint8Array): TransferManifest {
  const node = value instanceof Uint8Array ? decode(value) : value;
  if (node.tag !== TAG.SEQUENCE) throw malformed("the transfer manifest is not a SEQUENCE");
  const m: TransferManifest = {};
  for (const f of node.children) {
    if (f.cls === 0x80 && f.constructed && f.tagNumber === 7) {
      if (f.children.length === 0 || f.children.length > MAX_RECIPIENTS) {
        throw malformed("the manifest recipients are empty or too many");
      }
      m.recipients = f.children
        .map((h) => {
          if (h.tag !== TAG.OCTET_STRING || h.content.length !== 32) {
            throw malformed("a manifest recipient is not a SHA-256 hash");
          }
          return h.content.toString("hex");
        })
        .sort();
      continue;
    }
    if (f.cls !== 0x80 || f.constructed) continue;
    const i = f.tagNumber;
    const sf = STRING_FIELDS[i];
    const inf = INT_FIELDS[i];
    if (sf) m[sf] = f.content.toString("utf8");
    else if (inf) {
      const v = decodeInteger(f.content);
      if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`the manifest ${inf} is out of range`);
      m[inf] = Number(v);
    }
  }
  return m;
}

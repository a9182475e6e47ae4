import type * as asn1js from "asn1js";
import { type BerNode, decodeBer } from "./ber.js";
import { PkiError } from "./errors.js";
import { oidFromContent } from "./trust/der.js";

/**
 * X.501 Name handling: decoding DirectoryString values (UTF8String, BMPString, PrintableString, TeletexString,
 * UniversalString, IA5String...) to JavaScript strings, rendering a Name for display, and comparing Names the way
 * RFC 5280 §7.1 asks for path building (exact DER first, then case-insensitive, whitespace-collapsed strings).
 */

/** Short names of the attribute types seen in government and test certificates; others print as dotted OIDs. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.17": "postalCode",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

/** The commonName attribute type. */
export const OID_COMMON_NAME = "2.5.4.3";

/** One attribute of a relative distinguished name. */
export interface NameAttribute {
  /** Attribute type OID, e.g. "2.5.4.3". */
  type: string;
  /** Short name ("CN") or the dotted OID when unknown. */
  shortName: string;
  /** Decoded string value, or undefined when the value is not a string type. */
  value: string | undefined;
  /** Universal tag number of the value (12 UTF8String, 19 PrintableString, 30 BMPString ...). */
  valueTag: number;
  /** DER of the attribute value (for exact comparison of non-string values). */
  valueDer: Uint8Array;
}

/** A parsed Name: RDNs in encoded order (most significant first, e.g. C before CN). */
export type ParsedName = NameAttribute[][];

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });
const LATIN1 = new TextDecoder("latin1");

/**
 * Decodes the content octets of a universal string type to a JavaScript string.
 * TeletexString (T61) is in practice written by CAs either as Latin-1 or (wrongly) as UTF-8: valid UTF-8 is read as
 * UTF-8, anything else as Latin-1, which is what most readers show. Returns undefined for non-string tags.
 */
export function decodeStringValue(tag: number, content: Uint8Array): string | undefined {
  switch (tag) {
    case 12: // UTF8String
      return new TextDecoder("utf-8").decode(content);
    case 30: {
      // BMPString: UCS-2 big-endian (UTF-16BE; surrogate pairs are decoded as such)
      let s = "";
      for (let i = 0; i + 1 < content.length; i += 2) s += String.fromCharCode((content[i]! << 8) | content[i + 1]!);
      return s;
    }
    case 28: {
      // UniversalString: UCS-4 big-endian
      let s = "";
      for (let i = 0; i + 3 < content.length; i += 4) {
        const cp = ((content[i]! << 24) | (content[i + 1]! << 16) | (content[i + 2]! << 8) | content[i + 3]!) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
      }
      return s;
    }
    case 20: // TeletexString
    case 21: // VideotexString
    case 25: // GraphicString
    case 27: {
      // GeneralString
      try {
        return UTF8_STRICT.decode(content);
      } catch {
        return LATIN1.decode(content);
      }
    }
    case 18: // NumericString
    case 19: // PrintableString
    case 22: // IA5String
    case 26: // VisibleString
      return LATIN1.decode(content);
    default:
      return undefined;
  }
}

function malformed(what: string, cause?: unknown): PkiError {
  return new PkiError("MALFORMED", `The ${what} is not a valid X.501 name.`, {
    cause,
    hint: "The certificate or file may be damaged; ask its issuer for a fresh copy.",
  });
}

/** Limits of one Name: 64 KiB and 4,096 elements (about 1,000 attributes; real names have a dozen). */
const NAME_LIMITS = { maxBytes: 64 * 1024, maxNodes: 4096 };

/**
 * Parses a DER Name (or an already decoded asn1js block of one) into its RDNs, within NAME_LIMITS. Throws PkiError
 * MALFORMED.
 */
export function parseName(input: Uint8Array | asn1js.AsnType, what = "name"): ParsedName {
  const der = input instanceof Uint8Array ? input : new Uint8Array(input.valueBeforeDecodeView);
  let name: BerNode;
  try {
    name = decodeBer(der, NAME_LIMITS);
  } catch (e) {
    throw malformed(what, e);
  }
  if (name.tag !== 0x30) throw malformed(what);
  const rdns: ParsedName = [];
  for (const rdn of name.children) {
    if (rdn.tag !== 0x31 || rdn.children.length === 0) throw malformed(what);
    const attrs: NameAttribute[] = [];
    for (const atv of rdn.children) {
      if (atv.tag !== 0x30 || atv.children.length !== 2) throw malformed(what);
      const [oid, value] = atv.children as [BerNode, BerNode];
      if (oid.tag !== 0x06) throw malformed(what);
      let type: string;
      try {
        type = oidFromContent(oid.content);
      } catch (e) {
        throw malformed(what, e);
      }
      const tag = value.cls === 0 && !value.constructed ? value.tagNumber : -1;
      const valueDer = new Uint8Array(value.raw);
      const content = value.constructed ? new Uint8Array(0) : valueDer.subarray(value.contentStart - value.start);
      attrs.push({
        type,
        shortName: ATTRIBUTE_NAMES[type] ?? type,
        value: tag >= 0 ? decodeStringValue(tag, content) : undefined,
        valueTag: tag,
        valueDer,
      });
    }
    rdns.push(attrs);
  }
  return rdns;
}

function escapeValue(v: string): string {
  let s = v.replace(/([\\,+"<>;=])/g, "\\$1");
  if (s.startsWith(" ") || s.startsWith("#")) s = `\\${s}`;
  if (s.endsWith(" ") && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * Renders a Name for display in encoded order, e.g. "C=TW, O=臺北市政府, OU=社會局, CN=王小明". Multi-valued RDNs are
 * joined with "+"; special characters are backslash-escaped as in RFC 4514; non-string values print as "#<hex DER>".
 */
export function nameToString(name: Uint8Array | ParsedName): string {
  const rdns = name instanceof Uint8Array ? parseName(name) : name;
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => `${a.shortName}=${a.value === undefined ? `#${hex(a.valueDer)}` : escapeValue(a.value)}`)
        .join("+"),
    )
    .join(", ");
}

/** The last (most specific) commonName of a Name, or "" when there is none. */
export function commonNameOf(name: Uint8Array | ParsedName): string {
  const rdns = name instanceof Uint8Array ? parseName(name) : name;
  let cn = "";
  for (const rdn of rdns) for (const a of rdn) if (a.type === OID_COMMON_NAME && a.value !== undefined) cn = a.value;
  return cn;
}

/**
 * The string values of the given attribute types of a Name, by short name ("O", "OU", "CN" ...), in encoded order
 * (e.g. an agency certificate's O and OU: ["高雄市稅捐稽徵處", "KHH-TAX"]). Non-string values are skipped.
 */
export function nameAttributeValues(name: Uint8Array | ParsedName, shortNames: string[]): string[] {
  const rdns = name instanceof Uint8Array ? parseName(name) : name;
  const out: string[] = [];
  for (const rdn of rdns) for (const a of rdn) if (shortNames.includes(a.shortName) && a.value) out.push(a.value);
  return out;
}

/** RFC 5280 §7.1 / RFC 4518-style normalisation used for comparison: NFKC, case-fold, collapse and trim spaces. */
function normalizeForCompare(v: string): string {
  return v.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

function attributesEqual(a: NameAttribute, b: NameAttribute): boolean {
  if (a.type !== b.type) return false;
  if (a.value !== undefined && b.value !== undefined) {
    return normalizeForCompare(a.value) === normalizeForCompare(b.value);
  }
  return bytesEqual(a.valueDer, b.valueDer);
}

/** Byte-wise equality (not constant time: for public data only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when two DER Names denote the same entity (RFC 5280 §7.1): identical DER, or the same RDNs (each a set of
 * attributes, compared regardless of order within the set) whose string values match after case-folding and
 * whitespace normalisation. Malformed Names compare equal only when their bytes are identical.
 */
export function namesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  try {
    return parsedNamesEqual(parseName(a), parseName(b));
  } catch {
    return false;
  }
}

/** namesEqual over already parsed Names (RFC 5280 7.1 rules, without the DER fast path). */
export function parsedNamesEqual(pa: ParsedName, pb: ParsedName): boolean {
  if (pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) {
    const ra = pa[i]!;
    const rb = pb[i]!;
    if (ra.length !== rb.length) return false;
    const used = new Array<boolean>(rb.length).fill(false);
    for (const attr of ra) {
      const j = rb.findIndex((other, k) => !used[k] && attributesEqual(attr, other));
      if (j < 0) return false;
      used[j] = true;
    }
  }
  return true;
}

/** True when the Name has no RDNs (an empty SEQUENCE), as in certificates that carry only subjectAltName. */
export function isEmptyName(name: Uint8Array): boolean {
  try {
    return parseName(name).length === 0;
  } catch {
    return false;
  }
}

import {
  DerError,
  type Node,
  content,
  decode,
  expectSeq,
  hex,
  isConstructed,
  isContext,
  kids,
  oidOf,
  raw,
  stringOf,
  tagClass,
  tagNumber,
  CONTEXT,
  isUniversal,
} from "./der.js";

/** One attribute of a relative distinguished name. */
export interface Ava {
  type: string;
  /** Decoded text for string types, undefined for anything else. */
  text: string | undefined;
  /** Key used for RFC 5280 7.1 comparison: normalised text, or "#hex" of the DER value. */
  norm: string;
}

/** A parsed X.501 Name with its comparison key. */
export interface Name {
  der: Uint8Array;
  rdns: Ava[][];
  /** Equal keys mean equal names under RFC 5280 7.1 (case-insensitive, whitespace-folded strings). */
  key: string;
}

const ATTR_SHORT: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "2.5.4.4": "SN",
  "2.5.4.42": "GN",
  "2.5.4.12": "title",
  "2.5.4.46": "dnQualifier",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "emailAddress",
};

export const OID_EMAIL_ADDRESS = "1.2.840.113549.1.9.1";

/** RFC 4518-style simplification: NFKC, case fold, trim, collapse inner whitespace. */
export function normaliseText(s: string): string {
  return s.normalize("NFKC").toLowerCase().trim().replace(/\s+/g, " ");
}

export function parseName(n: Node): Name {
  const rdns: Ava[][] = [];
  for (const rdn of expectSeq(n, "Name")) {
    if (!isUniversal(rdn, 17)) throw new DerError("Name: expected a SET of attributes");
    const set: Ava[] = [];
    for (const atv of kids(rdn)) {
      const [t, v] = expectSeq(atv, "AttributeTypeAndValue");
      if (v === undefined) throw new DerError("AttributeTypeAndValue: missing value");
      const type = oidOf(t);
      const text = stringOf(v);
      set.push({ type, text, norm: text === undefined ? `#${hex(raw(v))}` : normaliseText(text) });
    }
    if (set.length === 0) throw new DerError("Name: empty relative distinguished name");
    rdns.push(set);
  }
  const key = rdns.map((r) => rdnKey(r)).join(",");
  return { der: raw(n), rdns, key };
}

function rdnKey(r: Ava[]): string {
  return r
    .map((a) => `${a.type}=${JSON.stringify(a.norm)}`)
    .sort()
    .join("+");
}

export function parseNameDer(der: Uint8Array): Name {
  return parseName(decode(der));
}

/** "C=TW, O=..., CN=王小明" (most significant first). */
export function displayName(name: Name): string {
  if (name.rdns.length === 0) return "(empty name)";
  return name.rdns.map((r) => r.map((a) => `${ATTR_SHORT[a.type] ?? a.type}=${a.text ?? a.norm}`).join("+")).join(", ");
}

export function commonNameOf(name: Name): string | undefined {
  for (let i = name.rdns.length - 1; i >= 0; i--) {
    for (const a of name.rdns[i] ?? []) if (a.type === "2.5.4.3" && a.text !== undefined) return a.text;
  }
  return undefined;
}

export function namesEqual(a: Name, b: Name): boolean {
  return a.key === b.key;
}

/** True when `sub` lies under `base` (base's RDNs are a prefix of sub's). */
export function nameWithin(sub: Name, base: Name): boolean {
  if (base.rdns.length > sub.rdns.length) return false;
  for (let i = 0; i < base.rdns.length; i++) {
    if (rdnKey(base.rdns[i] as Ava[]) !== rdnKey(sub.rdns[i] as Ava[])) return false;
  }
  return true;
}

export type GeneralName =
  | { kind: "email"; value: string }
  | { kind: "dns"; value: string }
  | { kind: "uri"; value: string }
  | { kind: "ip"; value: Uint8Array }
  | { kind: "dn"; value: Name }
  | { kind: "other"; tag: number; value: Uint8Array };

function ia5(n: Node): string {
  const c = content(n);
  for (const b of c) if (b > 0x7f) throw new DerError("IA5String with a non-ASCII byte");
  return new TextDecoder("latin1").decode(c);
}

export function parseGeneralName(n: Node): GeneralName {
  if (tagClass(n) !== CONTEXT) throw new DerError("GeneralName: expected a context tag");
  switch (tagNumber(n)) {
    case 1:
      return { kind: "email", value: ia5(n) };
    case 2:
      return { kind: "dns", value: ia5(n) };
    case 6:
      return { kind: "uri", value: ia5(n) };
    case 7:
      return { kind: "ip", value: content(n) };
    case 4: {
      const inner = kids(n);
      if (inner.length !== 1) throw new DerError("GeneralName: bad directoryName");
      return { kind: "dn", value: parseName(inner[0] as Node) };
    }
    default:
      return { kind: "other", tag: tagNumber(n), value: raw(n) };
  }
}

/** GeneralNames: a SEQUENCE (or an IMPLICIT-tagged constructed element) of GeneralName. */
export function parseGeneralNames(n: Node): GeneralName[] {
  if (!isConstructed(n)) throw new DerError("GeneralNames: expected a constructed element");
  const out = kids(n).map(parseGeneralName);
  if (out.length === 0) throw new DerError("GeneralNames: empty");
  return out;
}

export function displayGeneralName(g: GeneralName): string {
  switch (g.kind) {
    case "dn":
      return displayName(g.value);
    case "ip":
      return ipText(g.value);
    case "other":
      return `[${g.tag}]`;
    default:
      return g.value;
  }
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  return hex(b);
}

export function generalNameKey(g: GeneralName): string {
  switch (g.kind) {
    case "dn":
      return `dn:${g.value.key}`;
    case "ip":
    case "other":
      return `${g.kind}:${hex(g.kind === "ip" ? g.value : g.value)}`;
    default:
      return `${g.kind}:${g.value.toLowerCase()}`;
  }
}

// ---- name constraints (RFC 5280 4.2.1.10, 6.1.3 b/c, 6.1.4 g) ----

export interface Subtree {
  base: GeneralName;
}

export interface NameConstraints {
  permitted: Subtree[] | undefined;
  excluded: Subtree[] | undefined;
}

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

function validDnsName(s: string, allowLeadingDot: boolean): boolean {
  let v = s;
  if (allowLeadingDot && v.startsWith(".")) v = v.slice(1);
  if (v === "") return allowLeadingDot;
  if (v.length > 253) return false;
  return v.split(".").every((l) => DNS_LABEL.test(l));
}

function validMask(mask: Uint8Array): boolean {
  let seenZero = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      if (one && seenZero) return false;
      if (!one) seenZero = true;
    }
  }
  return true;
}

function parseSubtrees(n: Node): Subtree[] {
  const out: Subtree[] = [];
  for (const st of kids(n)) {
    const parts = expectSeq(st, "GeneralSubtree");
    const base = parseGeneralName(parts[0] as Node);
    for (const extra of parts.slice(1)) {
      // minimum MUST be zero and maximum MUST be absent (RFC 5280 4.2.1.10).
      if (isContext(extra, 0)) {
        const c = content(extra);
        if (c.length !== 1 || c[0] !== 0) throw new DerError("GeneralSubtree: minimum other than 0");
      } else throw new DerError("GeneralSubtree: maximum is not allowed");
    }
    if (base.kind === "dns" && !validDnsName(base.value, true))
      throw new DerError(`name constraint: bad dNSName "${base.value}"`);
    if (base.kind === "ip") {
      if (base.value.length !== 8 && base.value.length !== 32)
        throw new DerError("name constraint: iPAddress is not address+mask");
      if (!validMask(base.value.subarray(base.value.length / 2)))
        throw new DerError("name constraint: iPAddress mask not contiguous");
    }
    out.push({ base });
  }
  if (out.length === 0) throw new DerError("NameConstraints: empty list of subtrees (SIZE (1..MAX))");
  return out;
}

export function parseNameConstraints(value: Uint8Array): NameConstraints {
  const parts = expectSeq(decode(value), "NameConstraints");
  let permitted: Subtree[] | undefined;
  let excluded: Subtree[] | undefined;
  for (const p of parts) {
    if (isContext(p, 0)) permitted = parseSubtrees(p);
    else if (isContext(p, 1)) excluded = parseSubtrees(p);
    else throw new DerError("NameConstraints: unexpected field");
  }
  if (!permitted && !excluded) throw new DerError("NameConstraints: empty");
  return { permitted, excluded };
}

function dnsMatches(name: string, constraint: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  const c = constraint.toLowerCase();
  if (c === "") return true;
  if (c.startsWith(".")) return n.endsWith(c);
  return n === c || n.endsWith(`.${c}`);
}

function hostMatches(host: string, constraint: string): boolean {
  const h = host.toLowerCase();
  const c = constraint.toLowerCase();
  if (c.startsWith(".")) return h.endsWith(c);
  return h === c;
}

function emailMatches(addr: string, constraint: string): boolean {
  const at = addr.lastIndexOf("@");
  if (at < 0) return false;
  const host = addr.slice(at + 1).toLowerCase();
  if (constraint.includes("@")) {
    const cAt = constraint.lastIndexOf("@");
    return addr.slice(0, at) === constraint.slice(0, cAt) && host === constraint.slice(cAt + 1).toLowerCase();
  }
  return hostMatches(host, constraint);
}

function uriHost(uri: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(uri);
  return m?.[1] || undefined;
}

function ipMatches(addr: Uint8Array, constraint: Uint8Array): boolean {
  const len = constraint.length / 2;
  if (addr.length !== len) return false;
  for (let i = 0; i < len; i++) {
    const m = constraint[len + i] as number;
    if (((addr[i] as number) & m) !== ((constraint[i] as number) & m)) return false;
  }
  return true;
}

/** True when `name` is in the subtree `base`; undefined when the forms differ (the constraint does not apply). */
export function subtreeMatches(name: GeneralName, base: GeneralName): boolean | undefined {
  if (name.kind !== base.kind) return undefined;
  switch (name.kind) {
    case "dns":
      return dnsMatches(name.value, base.value as string);
    case "email":
      return emailMatches(name.value, base.value as string);
    case "uri": {
      const host = uriHost(name.value);
      return host !== undefined && hostMatches(host, base.value as string);
    }
    case "ip":
      return ipMatches(name.value, base.value as Uint8Array);
    case "dn":
      return nameWithin(name.value, base.value as Name);
    default:
      return undefined;
  }
}

/** Checks one name form of a subject name for syntactic validity (limbo rejects malformed SANs under constraints). */
export function nameSyntaxOk(g: GeneralName): boolean {
  if (g.kind === "dns") return validDnsName(g.value.replace(/^\*\./, "x."), false);
  if (g.kind === "ip") return g.value.length === 4 || g.value.length === 16;
  if (g.kind === "email") return g.value.includes("@");
  return true;
}

/**
 * Accumulated constraints along a path: each permitted set narrows (a name of a form the set constrains must match
 * one of its subtrees), excluded subtrees add up.
 */
export class ConstraintState {
  private readonly permittedSets: Subtree[][] = [];
  private readonly excluded: Subtree[] = [];

  add(nc: NameConstraints): void {
    if (nc.permitted) this.permittedSets.push(nc.permitted);
    if (nc.excluded) this.excluded.push(...nc.excluded);
  }

  get empty(): boolean {
    return this.permittedSets.length === 0 && this.excluded.length === 0;
  }

  /** Returns a reason string when `name` violates the constraints, else undefined. */
  check(name: GeneralName): string | undefined {
    for (const ex of this.excluded) {
      if (subtreeMatches(name, ex.base) === true)
        return `${displayGeneralName(name)} is in an excluded subtree (${displayGeneralName(ex.base)})`;
    }
    for (const set of this.permittedSets) {
      const relevant = set.filter((s) => s.base.kind === name.kind && name.kind !== "other");
      if (relevant.length === 0) continue;
      if (!nameSyntaxOk(name)) return `${displayGeneralName(name)} is malformed`;
      if (!relevant.some((s) => subtreeMatches(name, s.base) === true)) {
        return `${displayGeneralName(name)} is outside the permitted subtrees (${relevant.map((s) => displayGeneralName(s.base)).join(", ")})`;
      }
    }
    return undefined;
  }
}

import { canonicalJson } from "./canonical-json.js";
import { SealpostError } from "./errors.js";

/**
 * The content of an agency's recipient roster: what one of the agency's roster officers signs (CMS SignedData,
 * attached, eContentType id-data) and what every sender's CLI seals against. The signed bytes are
 * `encodeRoster(content)`: canonical JSON (keys sorted, no whitespace) in UTF-8, recipients sorted by staffId then
 * certSha256. `parseRoster` accepts exactly that form and nothing else, so one roster has one byte string.
 */
export interface RosterContent {
  type: "sealpost-roster";
  /** The agency code the roster is for. */
  agency: string;
  /** Grows with every roster the agency signs (1, 2, ...); clients refuse a lower one than they saw. */
  version: number;
  /** When the officer signed it (ISO-8601 UTC). */
  issuedAt: string;
  /** The current recipients: one entry per encryption certificate. */
  recipients: RosterEntry[];
}

/** One encryption certificate of one staff member on a roster. */
export interface RosterEntry {
  staffId: string;
  name: string;
  email: string;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  certSha256: string;
  /** The certificate's notAfter (ISO-8601 UTC). */
  notAfter: string;
}

/** Codes of a roster that cannot be read or used. */
export type RosterErrorCode = "ROSTER_MALFORMED";

/** A roster content that is not the documented canonical form. */
export class RosterError extends SealpostError<RosterErrorCode> {}

/** Largest roster content accepted (bytes): bounds parsing of hostile input. */
export const MAX_ROSTER_BYTES = 2 * 1024 * 1024;
/** Most recipient entries a roster may carry. */
export const MAX_ROSTER_ENTRIES = 10_000;

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** Recipients in roster order: staffId, then certSha256. */
export function sortRosterEntries(entries: RosterEntry[]): RosterEntry[] {
  const key = (e: RosterEntry) => `${e.staffId}\u0000${e.certSha256}`;
  return [...entries].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The bytes an officer signs: canonical JSON of the content (recipients sorted), UTF-8. */
export function encodeRoster(content: RosterContent): Uint8Array {
  const c: RosterContent = {
    type: "sealpost-roster",
    agency: content.agency,
    version: content.version,
    issuedAt: content.issuedAt,
    recipients: sortRosterEntries(content.recipients).map((e) => ({
      staffId: e.staffId,
      name: e.name,
      email: e.email,
      certSha256: e.certSha256,
      notAfter: e.notAfter,
    })),
  };
  return new TextEncoder().encode(canonicalJson(c));
}

const bad = (why: string) =>
  new RosterError("ROSTER_MALFORMED", `The roster content is not valid: ${why}.`, {
    hint: "Only rosters signed with `sealpost roster sign` are accepted.",
  });

const str = (v: unknown, what: string, max = 320): string => {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    throw bad(`${what} must be text of 1 to ${max} characters`);
  return v;
};

/**
 * Reads roster content bytes: UTF-8 canonical JSON with exactly the documented fields, a positive whole version,
 * ISO-8601 UTC times, lower-case hex SHA-256 values, recipients sorted and without duplicate certificates, and
 * re-encoding to the very same bytes. Throws RosterError ROSTER_MALFORMED otherwise.
 */
export function parseRoster(bytes: Uint8Array): RosterContent {
  if (bytes.length > MAX_ROSTER_BYTES) throw bad(`it is larger than ${MAX_ROSTER_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("it is not UTF-8 JSON");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw bad("it is not a JSON object");
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(",");
  if (keys !== "agency,issuedAt,recipients,type,version") throw bad(`unexpected fields (${keys})`);
  if (o.type !== "sealpost-roster") throw bad('type must be "sealpost-roster"');
  const agency = str(o.agency, "agency", 64);
  if (!Number.isSafeInteger(o.version) || (o.version as number) < 1) throw bad("version must be a whole number >= 1");
  const issuedAt = str(o.issuedAt, "issuedAt", 40);
  if (!ISO.test(issuedAt)) throw bad("issuedAt must be an ISO-8601 UTC time");
  if (!Array.isArray(o.recipients) || o.recipients.length > MAX_ROSTER_ENTRIES) {
    throw bad(`recipients must be a list of at most ${MAX_ROSTER_ENTRIES} entries`);
  }
  const seen = new Set<string>();
  const recipients = o.recipients.map((r: unknown, i: number): RosterEntry => {
    if (!r || typeof r !== "object" || Array.isArray(r)) throw bad(`recipient ${i + 1} is not an object`);
    const e = r as Record<string, unknown>;
    if (Object.keys(e).sort().join(",") !== "certSha256,email,name,notAfter,staffId") {
      throw bad(`recipient ${i + 1} has unexpected fields`);
    }
    const certSha256 = str(e.certSha256, "certSha256", 64);
    if (!HEX64.test(certSha256)) throw bad(`recipient ${i + 1}: certSha256 must be lower-case hex SHA-256`);
    if (seen.has(certSha256)) throw bad(`certificate ${certSha256} is listed twice`);
    seen.add(certSha256);
    const notAfter = str(e.notAfter, "notAfter", 40);
    if (!ISO.test(notAfter)) throw bad(`recipient ${i + 1}: notAfter must be an ISO-8601 UTC time`);
    return {
      staffId: str(e.staffId, "staffId"),
      name: str(e.name, "name", 200),
      email: str(e.email, "email"),
      certSha256,
      notAfter,
    };
  });
  const content: RosterContent = {
    type: "sealpost-roster",
    agency,
    version: o.version as number,
    issuedAt,
    recipients,
  };
  const again = encodeRoster(content);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) {
    throw bad("it is not in canonical form (sorted keys and recipients, no whitespace)");
  }
  return content;
}

/** What changes between two recipient lists, as an officer reviews it before signing. */
export interface RosterChanges {
  /** Staff members on `next` only. */
  added: RosterEntry[];
  /** Staff members on `current` only. */
  removed: RosterEntry[];
  /** Staff members on both whose certificates (or name, e-mail) differ: before and after. */
  replaced: { before: RosterEntry[]; after: RosterEntry[] }[];
}

/** The changes from `current` (empty list for a first roster) to `next`, grouped by staff member. */
export function rosterChanges(current: RosterEntry[], next: RosterEntry[]): RosterChanges {
  const byStaff = (l: RosterEntry[]) => {
    const m = new Map<string, RosterEntry[]>();
    for (const e of sortRosterEntries(l)) m.set(e.staffId, [...(m.get(e.staffId) ?? []), e]);
    return m;
  };
  const a = byStaff(current);
  const b = byStaff(next);
  const out: RosterChanges = { added: [], removed: [], replaced: [] };
  for (const [id, before] of a) {
    const after = b.get(id);
    if (!after) out.removed.push(...before);
    else if (canonicalJson(before) !== canonicalJson(after)) out.replaced.push({ before, after });
  }
  for (const [id, after] of b) if (!a.has(id)) out.added.push(...after);
  return out;
}

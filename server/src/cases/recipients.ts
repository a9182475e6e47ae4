import type { RecipientInfoSummary } from "../crypto.js";
import type { CertRow } from "../registry/repository.js";

/** What the server expected versus what the envelope names, for a RECIPIENTS_MISMATCH error's details. */
export interface RecipientComparison {
  exact: boolean;
  /** Expected certificates (sha256 + name) no RecipientInfo names. */
  missing: { sha256: string; commonName: string; serialHex: string }[];
  /** RecipientInfos that name no expected certificate. */
  unexpected: RecipientInfoSummary[];
}

const normSerial = (s: string | undefined) => (s ?? "").toLowerCase().replace(/^(00)+(?=[0-9a-f])/, "");
const normName = (s: string | undefined) =>
  (s ?? "")
    .replace(/\s*([,=+])\s*/g, "$1")
    .trim()
    .toLowerCase();

function matches(ri: RecipientInfoSummary, c: CertRow): boolean {
  if (ri.subjectKeyIdHex) return !!c.ski_hex && c.ski_hex.toLowerCase() === ri.subjectKeyIdHex.toLowerCase();
  if (ri.serialHex !== undefined && ri.issuer !== undefined) {
    return normSerial(ri.serialHex) === normSerial(c.serial_hex) && normName(ri.issuer) === normName(c.issuer);
  }
  return false;
}

/**
 * Compares an envelope's RecipientInfos with the expected certificates: exact when every RecipientInfo is a key
 * transport (RSA) or a key agreement recipient key (ECDH: one entry per RecipientEncryptedKey) to one expected certificate (by issuer and serial number, or subjectKeyIdentifier) and every expected
 * certificate is named once.
 */
export function compareRecipients(found: RecipientInfoSummary[], expected: CertRow[]): RecipientComparison {
  const hit = new Map<string, number>();
  const unexpected: RecipientInfoSummary[] = [];
  for (const ri of found) {
    const c = ri.type === "ktri" || ri.type === "kari" ? expected.find((e) => matches(ri, e)) : undefined;
    if (!c) unexpected.push(ri);
    else hit.set(c.id, (hit.get(c.id) ?? 0) + 1);
  }
  const missing = expected
    .filter((e) => !hit.has(e.id))
    .map((e) => ({ sha256: e.sha256, commonName: e.common_name, serialHex: e.serial_hex }));
  const dup = [...hit.values()].some((n) => n > 1);
  return { exact: missing.length === 0 && unexpected.length === 0 && !dup, missing, unexpected };
}

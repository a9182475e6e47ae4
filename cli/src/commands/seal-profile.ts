import { open } from "node:fs/promises";
import { type CertInfo, PkiError, parseCertificates } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import { CliError, usageError } from "../errors.js";

/** The largest transfer settings file read (a profile of hundreds of recipients with chains stays far below). */
export const MAX_PROFILE_BYTES = 4 * 1024 * 1024;

/** One recipient of a transfer settings file: the encryption certificate and the chain it came with. */
export interface ProfileRecipientCert {
  cert: CertInfo;
  chain: CertInfo[];
  /** How the settings file names the recipient (for messages): "name <email> (agency)". */
  label: string;
}

/** What `seal --profile` takes from a transfer settings file. */
export interface SealProfile {
  recipients: ProfileRecipientCert[];
  /** The case fields the sealed manifest carries: case id, agencies, record count, upload number. */
  manifest: TransferManifest;
}

const bad = (file: string, what: string) =>
  usageError(
    `${file} is not a transfer settings file: ${what}.`,
    "Download the case's transfer settings file (傳遞設定檔) again from the web console, or use `sealpost send FILE --case ID`.",
  );

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 1000;

/**
 * Reads the transfer settings file the web console downloads (the case's transfer profile as JSON: `case` and
 * `recipients`, each recipient with `certificate.pem` and `certificate.sha256`). At most MAX_PROFILE_BYTES are read.
 * Each recipient's first PEM certificate must have the SHA-256 the file names for it; a certificate named twice is
 * kept once. Validating the certificates is the caller's job (as for `--to`). Throws CliError IO when the file
 * cannot be read, USAGE (exit 2) when it is not a settings file.
 */
export async function readSealProfile(file: string): Promise<SealProfile> {
  let text: string;
  try {
    const fh = await open(file, "r");
    try {
      const buf = Buffer.alloc(MAX_PROFILE_BYTES + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > MAX_PROFILE_BYTES) throw bad(file, `larger than ${MAX_PROFILE_BYTES} bytes`);
      }
      text = buf.subarray(0, n).toString("utf8");
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError("IO", `Cannot read the transfer settings file ${file}: ${(e as Error).message}`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad(file, "not JSON");
  }
  if (!isObject(doc) || !isObject(doc.case) || !Array.isArray(doc.recipients)) {
    throw bad(file, "it needs a case and a list of recipients");
  }
  const c = doc.case;
  if (!str(c.id)) throw bad(file, "the case has no id");
  if (doc.recipients.length === 0) throw bad(file, "it names no recipient");
  if (doc.recipients.length > 10_000) throw bad(file, "it names more than 10000 recipients");
  const manifest: TransferManifest = { caseId: c.id };
  if (str(c.senderAgency)) manifest.senderAgency = c.senderAgency;
  if (str(c.receivingAgency)) manifest.receivingAgency = c.receivingAgency;
  if (Number.isSafeInteger(c.recordCount) && (c.recordCount as number) >= 0) {
    manifest.recordCount = c.recordCount as number;
  }
  if (str(c.uploadNo)) manifest.uploadNo = c.uploadNo;

  const seen = new Set<string>();
  const recipients: ProfileRecipientCert[] = [];
  for (const [i, r] of doc.recipients.entries()) {
    if (!isObject(r) || !isObject(r.certificate) || typeof r.certificate.pem !== "string") {
      throw bad(file, `recipient ${i + 1} has no certificate`);
    }
    const label = `${str(r.name) ? r.name : `recipient ${i + 1}`}${str(r.email) ? ` <${r.email}>` : ""}${str(r.agency) ? ` (${r.agency})` : ""}`;
    let certs: CertInfo[];
    try {
      certs = parseCertificates(r.certificate.pem);
    } catch (e) {
      if (!(e instanceof PkiError)) throw e;
      throw bad(file, `the certificate of ${label} is not readable (${e.code})`);
    }
    const [cert, ...chain] = certs;
    if (!cert) throw bad(file, `the certificate of ${label} is missing`);
    if (String(r.certificate.sha256 ?? "").toLowerCase() !== cert.sha256) {
      throw bad(file, `the certificate of ${label} does not have the SHA-256 the file names for it`);
    }
    if (seen.has(cert.sha256)) continue;
    seen.add(cert.sha256);
    recipients.push({ cert, chain, label });
  }
  return { recipients, manifest };
}

import { type CertInfo, nameAttributeValues } from "@sealpost/pki";
import { formatDate, type Output } from "./output.js";

/**
 * Certificate facts as the CLI prints them (human) and returns them (JSON). Field names of CertSummary are part of
 * the --json contract (see cli/README.md).
 */
export interface CertSummary {
  commonName: string;
  subject: string;
  /** O and OU of the subject joined with " / " (the agency and unit), or "" when absent. */
  agency: string;
  issuer: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  /** keyUsage bit names, or null when the extension is absent (any use). */
  keyUsage: string[] | null;
  keyType: string;
  keyBits: number | null;
  signatureAlgorithm: string;
  subjectKeyIdHex: string | null;
  sha256: string;
  sha1: string;
  isCA: boolean;
}

const SIG_ALGS: Record<string, string> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.10": "RSASSA-PSS",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
};

/** A readable name for a signature algorithm OID (the OID itself when unknown). */
export function signatureAlgorithmName(oid: string): string {
  return SIG_ALGS[oid] ?? oid;
}

/** The subject's O and OU values, "O / OU", or "" when it has neither. */
export function agencyOf(cert: CertInfo): string {
  try {
    return nameAttributeValues(cert.subjectDer, ["O", "OU"]).join(" / ");
  } catch {
    return "";
  }
}

export function summarizeCert(cert: CertInfo): CertSummary {
  return {
    commonName: cert.commonName,
    subject: cert.subject,
    agency: agencyOf(cert),
    issuer: cert.issuer,
    serialHex: cert.serialHex,
    notBefore: formatDate(cert.notBefore)!,
    notAfter: formatDate(cert.notAfter)!,
    keyUsage: cert.keyUsage ? [...cert.keyUsage] : null,
    keyType: cert.keyType,
    keyBits: cert.keyBits ?? null,
    signatureAlgorithm: signatureAlgorithmName(cert.signatureAlgorithmOid),
    subjectKeyIdHex: cert.subjectKeyIdHex ?? null,
    sha256: cert.sha256,
    sha1: cert.sha1,
    isCA: cert.isCA,
  };
}

/** A short one-line identity: "王小明 (serial 1a2b, issued by CN=...)". */
export function certOneLine(cert: { commonName: string; subject: string; serialHex: string; issuer: string }): string {
  const name = cert.commonName || cert.subject;
  return `${name} (serial ${cert.serialHex}, issuer ${cert.issuer})`;
}

/** Prints a CertSummary as aligned fields. */
export function printCert(out: Output, s: CertSummary, indent = "  "): void {
  out.fields(
    [
      ["Name", s.commonName],
      ["Subject", s.subject],
      ["Agency", s.agency],
      ["Issuer", s.issuer],
      ["Serial", s.serialHex],
      ["Valid from", s.notBefore],
      ["Valid until", s.notAfter],
      ["Key usage", s.keyUsage ? s.keyUsage.join(", ") : "(any: no keyUsage extension)"],
      ["Key", `${s.keyType}${s.keyBits ? ` ${s.keyBits} bits` : ""}`],
      ["Signature", s.signatureAlgorithm],
      ["CA", s.isCA ? "yes" : undefined],
      ["Key id", s.subjectKeyIdHex ?? undefined],
      ["SHA-256", colonHex(s.sha256)],
      ["SHA-1", colonHex(s.sha1)],
    ],
    indent,
  );
}

/** "ab12cd" as "AB:12:CD" (fingerprint display). */
export function colonHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(":");
}

/** A signer's certificate as the --json contract shows it. */
export function signerJson(
  cert: CertInfo,
): Pick<CertSummary, "commonName" | "subject" | "agency" | "issuer" | "serialHex" | "sha256"> {
  const s = summarizeCert(cert);
  return {
    commonName: s.commonName,
    subject: s.subject,
    agency: s.agency,
    issuer: s.issuer,
    serialHex: s.serialHex,
    sha256: s.sha256,
  };
}

import { commonNameOf, displayName } from "./names.js";
import type { ParsedCert } from "./x509.js";

/**
 * How a certificate is named in messages: "王小明's signing certificate (serial 1a2b, issued by GCA)" (signing or
 * encryption by its key usage, "CA certificate" for a CA).
 */
export function certLabel(pc: ParsedCert): string {
  const who = commonNameOf(pc.subject) ?? displayName(pc.subject);
  const by = commonNameOf(pc.issuer) ?? displayName(pc.issuer);
  const ku = pc.keyUsage;
  const signs = ku?.has("digitalSignature") || ku?.has("nonRepudiation");
  const encrypts = ku?.has("keyEncipherment") || ku?.has("keyAgreement") || ku?.has("dataEncipherment");
  const what = pc.basicConstraints?.ca
    ? "CA certificate"
    : signs && !encrypts
      ? "signing certificate"
      : encrypts && !signs
        ? "encryption certificate"
        : "certificate";
  return `${who}'s ${what} (serial ${pc.serialHex}, issued by ${by})`;
}

export function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function stamp(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

import { commonNameOf, displayName } from "./names.js";
import type { ParsedCert } from "./x509.js";

/** How a certificate is named in messages: "王小明's certificate (serial 1a2b, issued by GCA)". */
export function certLabel(pc: ParsedCert): string {
  const who = commonNameOf(pc.subject) ?? displayName(pc.subject);
  const by = commonNameOf(pc.issuer) ?? displayName(pc.issuer);
  const what = pc.basicConstraints?.ca ? "CA certificate" : "certificate";
  return `${who}'s ${what} (serial ${pc.serialHex}, issued by ${by})`;
}

export function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function stamp(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

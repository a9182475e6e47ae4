import type { CertInfo } from "../types.js";
import { derOf } from "./build.js";
import { CrlFetcher } from "./crl-fetch.js";
import { parseCrls } from "./crl.js";
import { httpExchange } from "./http.js";
import { displayName, namesEqual } from "./names.js";
import { publicKeyFrom, verifySignature } from "./signature.js";
import { parseCert } from "./x509.js";

/**
 * CRLs as a long-running service (the relay) keeps them: where to fetch them, what they say, and whether a CA
 * the service knows signed them. The path validation itself (scope, delta CRLs, signer paths) stays in the trust
 * policy; this is what a refresh job and a status report need.
 */

/** Limits of one CRL download: the trust policy's defaults, shared by the CLI and the relay. */
export const CRL_FETCH_LIMITS = { timeoutMs: 10_000, maxBytes: 20 * 1024 * 1024 } as const;

/** The http:// CRL distribution point URLs a certificate names (none when it names none). */
export function crlUrlsOf(cert: CertInfo | Uint8Array): string[] {
  return CrlFetcher.urlsOf(parseCert(derOf(cert)));
}

/** Downloads one CRL over plain HTTP within `limits` (default CRL_FETCH_LIMITS); rejects with a readable Error. */
export function downloadCrl(url: string, limits: { timeoutMs: number; maxBytes: number } = CRL_FETCH_LIMITS) {
  return httpExchange(url, limits);
}

/** A CA certificate's subject as CrlSummary.issuer shows a CRL issuer (to tell which CAs have no CRL). */
export function crlIssuerNameOf(ca: CertInfo | Uint8Array): string {
  return displayName(parseCert(derOf(ca)).subject);
}

/** One CRL as a refresh job and a status report see it. */
export interface CrlSummary {
  der: Uint8Array;
  sha256: string;
  /** The issuer's name for display, e.g. "C=TW, O=..., CN=...". */
  issuer: string;
  thisUpdate: Date;
  /** Undefined when the CRL names none (then it is never current). */
  nextUpdate: Date | undefined;
  crlNumber: string | undefined;
}

/**
 * Parses CRL bytes (DER, or PEM with "X509 CRL" blocks) and keeps the CRLs whose signature verifies with the key of
 * one of `issuers` (CA certificates whose subject is the CRL's issuer): nothing that a CA the caller trusts did not
 * sign is reported as current. The others are described in `rejected`. Throws on bytes that are not CRLs.
 */
export function readSignedCrls(
  bytes: Uint8Array,
  source: string,
  issuers: CertInfo[],
): { crls: CrlSummary[]; rejected: string[] } {
  const cas = issuers.map((c) => parseCert(derOf(c)));
  const crls: CrlSummary[] = [];
  const rejected: string[] = [];
  for (const crl of parseCrls(bytes, source)) {
    const signer = cas.find((ca) => {
      if (!namesEqual(ca.subject, crl.issuer)) return false;
      try {
        verifySignature(crl.tbs, crl.sigAlg, crl.signature, publicKeyFrom(ca.spki), {});
        return true;
      } catch {
        return false;
      }
    });
    if (!signer) {
      rejected.push(`${source}: the CRL of ${displayName(crl.issuer)} is not signed by a known CA certificate`);
      continue;
    }
    crls.push({
      der: crl.der,
      sha256: crl.sha256,
      issuer: displayName(crl.issuer),
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
      crlNumber: crl.crlNumber?.toString(),
    });
  }
  return { crls, rejected };
}

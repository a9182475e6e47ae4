import type { CertificateDto, CertPurpose } from "@sealpost/protocol";
import {
  type CertInfo,
  certificateToPem,
  PkiError,
  parseCertificate,
  parseCertificates,
  type TrustPolicy,
} from "@sealpost/pki";
import { ServerError } from "../errors.js";
import type { CertRow } from "./repository.js";

export const certDto = (r: CertRow): CertificateDto => ({
  id: r.id,
  staffId: r.staff_id,
  purpose: r.purpose,
  status: r.status,
  sha256: r.sha256,
  subject: r.subject,
  commonName: r.common_name,
  issuer: r.issuer,
  serialHex: r.serial_hex,
  ...(r.ski_hex ? { subjectKeyIdHex: r.ski_hex } : {}),
  notBefore: r.not_before,
  notAfter: r.not_after,
  pem: certificateToPem(parseCertificate(new Uint8Array(r.der))) + r.chain_pem,
});

/** The parsed certificate of a row, and the chain it was registered with. */
export function certOf(r: Pick<CertRow, "der" | "chain_pem">): { cert: CertInfo; chain: CertInfo[] } {
  return {
    cert: parseCertificate(new Uint8Array(r.der)),
    chain: r.chain_pem ? parseCertificates(r.chain_pem) : [],
  };
}

/**
 * The purpose a certificate's keyUsage allows: keyEncipherment (RSA) or keyAgreement (EC) => encrypt;
 * digitalSignature/nonRepudiation => sign.
 */
export function purposeOf(cert: CertInfo): CertPurpose | undefined {
  const ku = cert.keyUsage;
  if (!ku) return undefined;
  if (ku.has("keyEncipherment") || (cert.keyType === "ec" && ku.has("keyAgreement"))) return "encrypt";
  if (ku.has("digitalSignature") || ku.has("nonRepudiation")) return "sign";
  return undefined;
}

/** Validates registered certificates with the server's trust policy (when registered and whenever used). */
export interface CertificateValidator {
  /**
   * Chain, key usage for `purpose`, validity now, revocation. Throws ServerError CERT_REJECTED naming the PKI
   * reason (details.pkiCode).
   */
  validate(cert: CertInfo, purpose: CertPurpose, chain?: CertInfo[]): Promise<void>;
}

/** A validator over a trust policy and the configured intermediates (added to every validation). */
export function trustValidator(trust: TrustPolicy, intermediates: CertInfo[]): CertificateValidator {
  return {
    async validate(cert, purpose, chain = []) {
      try {
        await trust.validate(cert, { purpose, intermediates: [...chain, ...intermediates] });
      } catch (e) {
        if (e instanceof PkiError) {
          throw new ServerError("CERT_REJECTED", `Certificate of ${cert.commonName || cert.subject}: ${e.message}`, {
            cause: e,
            details: { pkiCode: e.code, sha256: cert.sha256 },
            ...(e.hint ? { hint: e.hint } : {}),
          });
        }
        throw e;
      }
    },
  };
}

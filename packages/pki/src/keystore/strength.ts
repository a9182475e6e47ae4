import * as asn1js from "asn1js";
import { toPkijsCertificate } from "../cert.js";
import { PkiError } from "../errors.js";
import type { CertInfo } from "../types.js";

/**
 * sealpost's key and algorithm floor: RSA keys of at least 2048 bits, EC keys of at least 256 bits, and certificate
 * signatures with SHA-2 (SHA-1, MD5, MD2 and MD4 are refused). The messages name the reason, for the civil servant
 * who has to ask for a new card.
 */

/** Minimum RSA modulus size in bits. */
export const MIN_RSA_BITS = 2048;
/** Minimum EC field size in bits. */
export const MIN_EC_BITS = 256;

const WEAK_SIGNATURE_OIDS: Record<string, string> = {
  "1.2.840.113549.1.1.2": "MD2",
  "1.2.840.113549.1.1.3": "MD4",
  "1.2.840.113549.1.1.4": "MD5",
  "1.2.840.113549.1.1.5": "SHA-1",
  "1.3.14.3.2.29": "SHA-1",
  "1.3.14.3.2.27": "SHA-1",
  "1.2.840.10045.4.1": "SHA-1",
  "1.2.840.10040.4.3": "SHA-1",
};

const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
const OID_SHA1 = "1.3.14.3.2.26";

/** One reason a certificate (or its key) falls below the floor. */
export interface WeaknessReason {
  code: "WEAK_KEY" | "WEAK_ALGORITHM";
  reason: string;
}

/** The hash of an RSASSA-PSS signature AlgorithmIdentifier's parameters (absent hashAlgorithm = SHA-1). */
function pssHashIsSha1(cert: CertInfo): boolean {
  const params = toPkijsCertificate(cert).signatureAlgorithm.algorithmParams;
  if (!(params instanceof asn1js.Sequence)) return true;
  const hashTagged = params.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
  if (!hashTagged) return true;
  const inner = (hashTagged.valueBlock as unknown as { value?: asn1js.AsnType[] }).value?.[0];
  const oid = inner instanceof asn1js.Sequence ? inner.valueBlock.value[0] : undefined;
  return oid instanceof asn1js.ObjectIdentifier && oid.valueBlock.toString() === OID_SHA1;
}

/** Every reason the certificate is too weak for sealpost (empty when it is fine). */
export function weaknessReasons(cert: CertInfo): WeaknessReason[] {
  const out: WeaknessReason[] = [];
  if ((cert.keyType === "rsa" || cert.keyType === "rsa-pss") && (cert.keyBits ?? 0) < MIN_RSA_BITS) {
    out.push({
      code: "WEAK_KEY",
      reason: `RSA-${cert.keyBits} key: sealpost requires at least ${MIN_RSA_BITS} bits`,
    });
  } else if (cert.keyType === "ec" && (cert.keyBits ?? 0) < MIN_EC_BITS) {
    out.push({ code: "WEAK_KEY", reason: `EC key of ${cert.keyBits} bits: sealpost requires at least ${MIN_EC_BITS}` });
  } else if (cert.keyType === "dsa") {
    out.push({ code: "WEAK_KEY", reason: "DSA key: sealpost does not use DSA" });
  }
  const weakHash = WEAK_SIGNATURE_OIDS[cert.signatureAlgorithmOid];
  if (weakHash) {
    out.push({
      code: "WEAK_ALGORITHM",
      reason: `certificate signed with ${weakHash}: sealpost requires SHA-256 or better`,
    });
  } else if (cert.signatureAlgorithmOid === OID_RSASSA_PSS && pssHashIsSha1(cert)) {
    out.push({
      code: "WEAK_ALGORITHM",
      reason: "certificate signed with RSA-PSS over SHA-1: sealpost requires SHA-256 or better",
    });
  }
  return out;
}

/**
 * Throws PkiError WEAK_KEY (or WEAK_ALGORITHM when only the signature hash is weak) naming every reason, e.g.
 * "RSA-1024 key: sealpost requires at least 2048 bits; certificate signed with SHA-1: ...".
 */
export function assertStrongCertificate(cert: CertInfo): void {
  const reasons = weaknessReasons(cert);
  if (reasons.length === 0) return;
  const code = reasons.some((r) => r.code === "WEAK_KEY") ? "WEAK_KEY" : "WEAK_ALGORITHM";
  const who = cert.commonName || cert.subject;
  throw new PkiError(code, `The certificate of ${who} is refused: ${reasons.map((r) => r.reason).join("; ")}.`, {
    hint: "Ask your certificate authority for a new card or certificate (RSA-2048 with SHA-256).",
    details: { reasons: reasons.map((r) => r.reason), serialHex: cert.serialHex, subject: cert.subject },
  });
}

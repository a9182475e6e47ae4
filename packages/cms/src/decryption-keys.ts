import type { CertInfo } from "@sealpost/pki";

/**
 * Whether a certificate's key may open files: keyUsage keyEncipherment or keyAgreement (either, whatever the key
 * type: OpenSSL's EC test certificates carry keyEncipherment), or no keyUsage extension. A signing-only key never.
 */
export function allowsDecryption(cert: CertInfo): boolean {
  return cert.keyUsage === undefined || cert.keyUsage.has("keyEncipherment") || cert.keyUsage.has("keyAgreement");
}

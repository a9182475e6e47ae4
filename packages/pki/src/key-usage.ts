import { PkiError } from "./errors.js";
import type { CertInfo, KeyEntry, KeyPurpose, Keystore } from "./types.js";

/**
 * keyUsage rules for sealpost's two purposes (a government IC card carries one key pair for each):
 * - sign: digitalSignature or nonRepudiation;
 * - encrypt: keyEncipherment for RSA (key transport), keyAgreement for EC.
 * A certificate without the keyUsage extension allows every usage (RFC 5280 4.2.1.3).
 */

const SIGN_BITS = ["digitalSignature", "nonRepudiation"];

function requiredBits(cert: CertInfo, purpose: KeyPurpose): string[] {
  if (purpose === "sign") return SIGN_BITS;
  return cert.keyType === "ec" ? ["keyAgreement"] : ["keyEncipherment"];
}

/** True when the certificate's keyUsage allows the purpose (or the extension is absent). */
export function keyUsageAllows(cert: CertInfo, purpose: KeyPurpose): boolean {
  if (cert.keyUsage === undefined) return true;
  return requiredBits(cert, purpose).some((b) => cert.keyUsage!.has(b));
}

function describeUsage(cert: CertInfo): string {
  return cert.keyUsage === undefined ? "any usage" : [...cert.keyUsage].join(", ") || "no usage";
}

/** Throws PkiError KEY_USAGE when the certificate may not be used for `purpose`. */
export function checkKeyUsage(cert: CertInfo, purpose: KeyPurpose): void {
  if (keyUsageAllows(cert, purpose)) return;
  const what = purpose === "sign" ? "signing" : "encryption";
  throw new PkiError(
    "KEY_USAGE",
    `The certificate of ${cert.commonName || cert.subject} is not for ${what} (its key usage is: ${describeUsage(cert)}).`,
    {
      hint:
        purpose === "sign"
          ? "Use your signing certificate (digitalSignature/nonRepudiation) for signing."
          : "Register the person's encryption certificate (keyEncipherment) instead.",
      details: { purpose, keyUsage: cert.keyUsage ? [...cert.keyUsage] : null, serialHex: cert.serialHex },
    },
  );
}

/**
 * The keystore entry for `purpose`. Entries whose keyUsage names the purpose explicitly win over entries without
 * a keyUsage extension; among equals, a certificate valid now wins, then the most recent notBefore.
 * Throws PkiError NO_KEY when no entry fits.
 */
export function pickKey(ks: Keystore, purpose: KeyPurpose, now: Date = new Date()): KeyEntry {
  const score = (e: KeyEntry): number =>
    (e.cert.keyUsage !== undefined ? 2 : 0) + (e.cert.notBefore <= now && now <= e.cert.notAfter ? 1 : 0);
  const fits = ks.entries.filter((e) => keyUsageAllows(e.cert, purpose));
  fits.sort((a, b) => score(b) - score(a) || b.cert.notBefore.getTime() - a.cert.notBefore.getTime());
  const best = fits[0];
  if (best) return best;
  const what = purpose === "sign" ? "signing" : "encryption";
  const have = ks.entries.map((e) => `${e.cert.commonName || e.cert.subject} (${describeUsage(e.cert)})`).join("; ");
  throw new PkiError("NO_KEY", `The keystore ${ks.source} holds no key for ${what}. It holds: ${have || "no keys"}.`, {
    hint:
      purpose === "sign"
        ? "Use the keystore with your signing key (keyUsage digitalSignature/nonRepudiation)."
        : "Use the keystore with your encryption key (keyUsage keyEncipherment).",
    details: { purpose, source: ks.source },
  });
}

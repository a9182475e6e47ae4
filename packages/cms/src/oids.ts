/** Object identifiers of the CMS structures and algorithms sealpost reads and writes. */
export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  envelopedData: "1.2.840.113549.1.7.3",
  digestedData: "1.2.840.113549.1.7.5",
  encryptedData: "1.2.840.113549.1.7.6",
  authenticatedData: "1.2.840.113549.1.9.16.1.2",
  authEnvelopedData: "1.2.840.113549.1.9.16.1.23",
  // attributes
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  counterSignature: "1.2.840.113549.1.9.6",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  cmsAlgorithmProtection: "1.2.840.113549.1.9.52",
  // digests
  md5: "1.2.840.113549.2.5",
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  // RSA
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsaesOaep: "1.2.840.113549.1.1.7",
  mgf1: "1.2.840.113549.1.1.8",
  pSpecified: "1.2.840.113549.1.1.9",
  rsassaPss: "1.2.840.113549.1.1.10",
  md5WithRSA: "1.2.840.113549.1.1.4",
  sha1WithRSA: "1.2.840.113549.1.1.5",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  sha384WithRSA: "1.2.840.113549.1.1.12",
  sha512WithRSA: "1.2.840.113549.1.1.13",
  sha224WithRSA: "1.2.840.113549.1.1.14",
  // EC
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha1: "1.2.840.10045.4.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  // ECDH key agreement (RFC 5753, SEC 1) and AES key wrap (RFC 3565)
  dhSinglePassStdDHSha1Kdf: "1.3.133.16.840.63.0.2",
  dhSinglePassStdDHSha224Kdf: "1.3.132.1.11.0",
  dhSinglePassStdDHSha256Kdf: "1.3.132.1.11.1",
  dhSinglePassStdDHSha384Kdf: "1.3.132.1.11.2",
  dhSinglePassStdDHSha512Kdf: "1.3.132.1.11.3",
  dhSinglePassCofactorDHSha1Kdf: "1.3.133.16.840.63.0.3",
  dhSinglePassCofactorDHSha224Kdf: "1.3.132.1.14.0",
  dhSinglePassCofactorDHSha256Kdf: "1.3.132.1.14.1",
  dhSinglePassCofactorDHSha384Kdf: "1.3.132.1.14.2",
  dhSinglePassCofactorDHSha512Kdf: "1.3.132.1.14.3",
  aes128Wrap: "2.16.840.1.101.3.4.1.5",
  aes192Wrap: "2.16.840.1.101.3.4.1.25",
  aes256Wrap: "2.16.840.1.101.3.4.1.45",
  cms3DESwrap: "1.2.840.113549.1.9.16.3.6",
  // ciphers
  aes128Cbc: "2.16.840.1.101.3.4.1.2",
  aes192Cbc: "2.16.840.1.101.3.4.1.22",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  aes128Gcm: "2.16.840.1.101.3.4.1.6",
  aes192Gcm: "2.16.840.1.101.3.4.1.26",
  aes256Gcm: "2.16.840.1.101.3.4.1.46",
  desEde3Cbc: "1.2.840.113549.3.7",
  rc2Cbc: "1.2.840.113549.3.2",
  // certificate extensions
  subjectKeyIdentifier: "2.5.29.14",
} as const;

const NAMES: Record<string, string> = Object.fromEntries(Object.entries(OID).map(([k, v]) => [v, k]));

/** A readable name for an OID ("sha256", "aes256Gcm" ...) or the dotted form when unknown. */
export function oidName(oid: string): string {
  return NAMES[oid] ?? oid;
}

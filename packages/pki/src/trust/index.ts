/**
 * Trust: RFC 5280 path building and validation, CRLs (files, directory, HTTP distribution points with a cache) and
 * OCSP. The entry point is createTrustPolicy; the lower-level pieces serve the PKITS and x509-limbo suites.
 */
export { createTrustPolicy, verifyCertificate, type TrustPolicyOptions, type VerifyOutcome } from "./policy.js";
export { validatePath, type ValidatePathOptions, type ValidatePathResult } from "./validate-path.js";
export { buildPaths, type BuildOptions, type CertInput } from "./build.js";
export type { RevocationMode } from "./engine.js";
export {
  CRL_FETCH_LIMITS,
  type CrlSummary,
  crlIssuerNameOf,
  crlUrlsOf,
  downloadCrl,
  readSignedCrls,
} from "./crl-info.js";

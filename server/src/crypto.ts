/**
 * The @sealpost/pki and @sealpost/cms functions the server relies on, under the names server modules import.
 * Nothing here does cryptography itself: the server never decrypts; it reads envelopes' RecipientInfos (inspect,
 * streaming, no keys) and validates certificates (createTrustPolicy).
 */
export {
  type InspectResult,
  inspect as inspectCms,
  type RecipientInfoSummary,
} from "@sealpost/cms";
export { createTrustPolicy, type TrustPolicyOptions } from "@sealpost/pki";

import { SealpostError } from "@sealpost/protocol";

/** Codes of certificate, key and trust failures. */
export type PkiErrorCode =
  | "BAD_PIN"
  | "MALFORMED"
  | "UNSUPPORTED_ALGORITHM"
  | "WEAK_KEY"
  | "WEAK_ALGORITHM"
  | "NO_KEY"
  | "KEY_USAGE"
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "REVOKED"
  | "ON_HOLD"
  | "UNTRUSTED"
  | "BAD_CERT_SIGNATURE"
  | "PATH_CONSTRAINT"
  | "NAME_CONSTRAINT"
  | "UNKNOWN_CRITICAL_EXTENSION"
  | "POLICY"
  | "REVOCATION_UNAVAILABLE"
  | "IO";

export class PkiError extends SealpostError<PkiErrorCode> {}

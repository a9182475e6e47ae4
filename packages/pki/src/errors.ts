import { SealpostError } from "@sealpost/protocol/core";

/**
 * Codes of certificate, key and trust failures. Tokens (PKCS#11): TOKEN_MODULE (the module cannot be loaded),
 * TOKEN_ABSENT (no token matches the pkcs11: URI), TOKEN (the token refused an operation), PIN_LOCKED (the user
 * PIN is blocked), BAD_PIN (details.tries: "many" | "few" | "last" when the token reports them). KDF_LIMIT: a keystore
 * asks for more password-based key derivation than sealpost allows (keystore/kdf-budget.ts), refused before any runs.
 */
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
  | "IO"
  | "TOKEN_MODULE"
  | "TOKEN_ABSENT"
  | "TOKEN"
  | "PIN_LOCKED"
  | "KDF_LIMIT";

export class PkiError extends SealpostError<PkiErrorCode> {}

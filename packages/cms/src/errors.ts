import { SealpostError } from "@sealpost/protocol/core";

/**
 * Codes of CMS failures. Callers (CLI exit codes, server replies) branch on these, never on the message.
 *
 * - NOT_A_RECIPIENT: none of the caller's keys matches a recipient of the file (details.recipients lists them).
 * - BAD_SIGNATURE: the signature over the signed attributes does not verify with the signer's certificate, or
 *   the signed attributes are missing, duplicated or inconsistent (contentType, CMSAlgorithmProtection,
 *   signingCertificateV2, signing time placed in unsigned attributes); details.reason says which.
 * - UNTRUSTED_SIGNER: the signer's certificate failed the trust policy (cause: the PkiError, details.pkiCode).
 * - TAMPERED: authentication tag, CBC padding or content digest does not match: the file was altered (or the
 *   key is wrong: a wrong key is indistinguishable from tampering, by design). Every failure after decryption that
 *   an outsider can cause is this code with one message and no details (see open.ts integrityFailure).
 * - UNSUPPORTED_ALGORITHM: an algorithm or structure sealpost does not implement (DSA, RC2, kari, kekri ...).
 * - TRUNCATED: the input ended before the structure did.
 * - MALFORMED: not valid BER/CMS, trailing data after the structure, or an oversized structure.
 * - UNSIGNED_CONTENT: the decrypted content carries no signature and the caller did not allow that.
 * - FORWARDED: the signed transfer manifest does not name the opener (its recipient hashes, else its receiving
 *   agency): someone who received the file encrypted it again for the opener.
 * - OUTPUT_EXISTS: the target file exists and `force` was not given.
 * - OUTPUT_NOT_FILE: the target is a folder, a symbolic link, a named pipe, a device or a socket: never written to or
 *   replaced, even with `force`.
 * - IO: reading or writing a file failed.
 * - KEY_USAGE: a certificate's keyUsage does not allow what it is used for.
 * - WEAK_ALGORITHM: SHA-1/MD5 signatures, RSA keys under 2048 bits.
 */
export type CmsErrorCode =
  | "NOT_A_RECIPIENT"
  | "BAD_SIGNATURE"
  | "UNTRUSTED_SIGNER"
  | "TAMPERED"
  | "UNSUPPORTED_ALGORITHM"
  | "TRUNCATED"
  | "MALFORMED"
  | "UNSIGNED_CONTENT"
  | "FORWARDED"
  | "OUTPUT_EXISTS"
  | "OUTPUT_NOT_FILE"
  | "IO"
  | "KEY_USAGE"
  | "WEAK_ALGORITHM";

/** Every failure of @sealpost/cms. Messages never contain keys, PINs or plaintext. */
export class CmsError extends SealpostError<CmsErrorCode> {}

import { EXIT_CODES, type ExitCode } from "@sealpost/protocol";

/**
 * The one table from error code strings (CmsError, PkiError, CliError, and the remote commands' errors) to the
 * CLI's exit codes (packages/protocol/src/exit-codes.ts). A code missing here is a bug and exits 1.
 * Codes shared by several domains (IO, MALFORMED, KEY_USAGE, WEAK_ALGORITHM ...) mean the same thing in each.
 */
const EXIT_BY_CODE: Record<string, ExitCode> = {
  // usage
  USAGE: EXIT_CODES.USAGE,
  PIN_ON_COMMAND_LINE: EXIT_CODES.USAGE,
  CONFIG: EXIT_CODES.USAGE,
  PRIVATE_KEY_IN_FILE: EXIT_CODES.USAGE,
  // I/O
  IO: EXIT_CODES.IO,
  OUTPUT_EXISTS: EXIT_CODES.IO,
  OUTPUT_NOT_FILE: EXIT_CODES.IO,
  // keys
  NOT_A_RECIPIENT: EXIT_CODES.NOT_A_RECIPIENT,
  BAD_PIN: EXIT_CODES.BAD_PIN,
  PIN_REQUIRED: EXIT_CODES.BAD_PIN,
  PIN_ABORTED: EXIT_CODES.BAD_PIN,
  KEYSTORE: EXIT_CODES.BAD_PIN,
  TOKEN_MODULE: EXIT_CODES.BAD_PIN,
  TOKEN_ABSENT: EXIT_CODES.BAD_PIN,
  TOKEN: EXIT_CODES.BAD_PIN,
  PIN_LOCKED: EXIT_CODES.BAD_PIN,
  KDF_LIMIT: EXIT_CODES.KDF_LIMIT,
  // integrity
  TAMPERED: EXIT_CODES.INTEGRITY,
  TRUNCATED: EXIT_CODES.INTEGRITY,
  MALFORMED: EXIT_CODES.INTEGRITY,
  // signature
  BAD_SIGNATURE: EXIT_CODES.BAD_SIGNATURE,
  UNSIGNED_CONTENT: EXIT_CODES.BAD_SIGNATURE,
  FORWARDED: EXIT_CODES.BAD_SIGNATURE,
  // certificates
  UNTRUSTED_SIGNER: EXIT_CODES.CERTIFICATE,
  UNTRUSTED: EXIT_CODES.CERTIFICATE,
  EXPIRED: EXIT_CODES.CERTIFICATE,
  NOT_YET_VALID: EXIT_CODES.CERTIFICATE,
  REVOKED: EXIT_CODES.CERTIFICATE,
  ON_HOLD: EXIT_CODES.CERTIFICATE,
  KEY_USAGE: EXIT_CODES.CERTIFICATE,
  NO_KEY: EXIT_CODES.CERTIFICATE,
  BAD_CERT_SIGNATURE: EXIT_CODES.CERTIFICATE,
  PATH_CONSTRAINT: EXIT_CODES.CERTIFICATE,
  NAME_CONSTRAINT: EXIT_CODES.CERTIFICATE,
  UNKNOWN_CRITICAL_EXTENSION: EXIT_CODES.CERTIFICATE,
  POLICY: EXIT_CODES.CERTIFICATE,
  REVOCATION_UNAVAILABLE: EXIT_CODES.CERTIFICATE,
  // algorithms
  UNSUPPORTED_ALGORITHM: EXIT_CODES.WEAK_ALGORITHM,
  WEAK_ALGORITHM: EXIT_CODES.WEAK_ALGORITHM,
  WEAK_KEY: EXIT_CODES.WEAK_ALGORITHM,
  // server (remote commands)
  SERVER_UNREACHABLE: EXIT_CODES.SERVER_UNREACHABLE,
  BAD_RESPONSE: EXIT_CODES.SERVER_UNREACHABLE,
  UNAUTHENTICATED: EXIT_CODES.NOT_AUTHORIZED,
  UNAUTHORIZED: EXIT_CODES.NOT_AUTHORIZED,
  FORBIDDEN: EXIT_CODES.NOT_AUTHORIZED,
  ILLEGAL_TRANSITION: EXIT_CODES.SERVER_REFUSED,
  CONFLICT: EXIT_CODES.SERVER_REFUSED,
  NOT_FOUND: EXIT_CODES.SERVER_REFUSED,
  UPLOAD_REJECTED: EXIT_CODES.SERVER_REFUSED,
  RECIPIENTS_MISMATCH: EXIT_CODES.SERVER_REFUSED,
};

/** Node's errno codes that mean "a file could not be read or written": exit 3. */
const ERRNO_IO = new Set([
  "ENOENT",
  "EACCES",
  "EPERM",
  "EISDIR",
  "ENOTDIR",
  "ENOSPC",
  "EEXIST",
  "EROFS",
  "EMFILE",
  "ENFILE",
  "EPIPE",
  "EDQUOT",
  "EFBIG",
  "EIO",
  "ELOOP",
  "ENAMETOOLONG",
  "EXDEV",
]);

/**
 * Adds or overrides code-to-exit mappings (for the remote commands' own error codes). Exit codes must come from
 * EXIT_CODES; an existing code is only overridden on purpose.
 */
export function registerExitCodes(map: Record<string, ExitCode>): void {
  Object.assign(EXIT_BY_CODE, map);
}

/** The exit code for an error code string, or undefined when the table does not know it. */
export function exitCodeForCode(code: string): ExitCode | undefined {
  return Object.hasOwn(EXIT_BY_CODE, code) ? EXIT_BY_CODE[code] : undefined;
}

/**
 * The exit code for any thrown value: an explicit numeric `exitCode` property wins (errors of the remote commands
 * may carry one), then the table by `code`; UNTRUSTED_SIGNER whose cause is a weak key or algorithm exits 9 rather
 * than 8; Node errno codes of file operations exit 3; anything else is an internal error (1).
 */
export function exitCodeFor(err: unknown): ExitCode {
  if (typeof err !== "object" || err === null) return EXIT_CODES.INTERNAL;
  const e = err as { code?: unknown; exitCode?: unknown; details?: { pkiCode?: unknown }; cause?: unknown };
  if (typeof e.exitCode === "number" && Object.values(EXIT_CODES).includes(e.exitCode as ExitCode)) {
    return e.exitCode as ExitCode;
  }
  if (typeof e.code !== "string") return EXIT_CODES.INTERNAL;
  if (e.code === "UNTRUSTED_SIGNER") {
    const inner =
      typeof e.details?.pkiCode === "string"
        ? e.details.pkiCode
        : typeof (e.cause as { code?: unknown } | undefined)?.code === "string"
          ? (e.cause as { code: string }).code
          : undefined;
    if (inner !== undefined && exitCodeForCode(inner) === EXIT_CODES.WEAK_ALGORITHM) return EXIT_CODES.WEAK_ALGORITHM;
  }
  const mapped = exitCodeForCode(e.code);
  if (mapped !== undefined) return mapped;
  if (ERRNO_IO.has(e.code)) return EXIT_CODES.IO;
  return EXIT_CODES.INTERNAL;
}

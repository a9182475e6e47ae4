/**
 * The `sealpost` CLI exit codes (a contract: scripts branch on them; documented in `sealpost --help` and
 * cli/README.md). Codes never change meaning; new ones are appended.
 */
export const EXIT_CODES = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  IO: 3,
  NOT_A_RECIPIENT: 4,
  BAD_PIN: 5,
  INTEGRITY: 6,
  BAD_SIGNATURE: 7,
  CERTIFICATE: 8,
  WEAK_ALGORITHM: 9,
  SERVER_UNREACHABLE: 10,
  NOT_AUTHORIZED: 11,
  SERVER_REFUSED: 12,
  KDF_LIMIT: 13,
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;
export type ExitCode = (typeof EXIT_CODES)[ExitCodeName];

/** One line of documentation per exit code, in order (used by `--help` and checked against cli/README.md). */
export const EXIT_CODE_DESCRIPTIONS: Readonly<Record<ExitCode, string>> = {
  0: "success",
  1: "unexpected internal error (a bug: please report it)",
  2: "usage error (bad or missing arguments or options)",
  3: "I/O error (input missing or unreadable, output exists without --force, disk full, permission)",
  4: "not a recipient (none of your keys can open this file)",
  5: "bad PIN, or the keystore cannot be opened",
  6: "integrity failure: tampered, truncated or malformed file; a relay audit log that shrank, forked or is signed by an unpinned key",
  7: "bad signature, or unsigned content refused",
  8: "certificate not acceptable: untrusted, expired, not yet valid, revoked, on hold, wrong key usage, revocation unknown",
  9: "unsupported or too-weak algorithm or key (SHA-1, RSA < 2048, DES ...)",
  10: "server unreachable or bad server response",
  11: "not authenticated, or not allowed (401/403)",
  12: "refused by the server: illegal state transition, conflict, not found, upload rejected (recipients mismatch)",
  13: "keystore refused: its key derivation asks for more work than sealpost allows (iterations, key length)",
};

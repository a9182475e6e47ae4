import { EXIT_CODES, type ExitCode, SealpostError } from "@sealpost/protocol";

/**
 * Failures of the remote commands. `code` is the server's catalogue code when the server refused (NOT_FOUND,
 * ILLEGAL_TRANSITION, RECIPIENTS_MISMATCH ...), or SERVER_UNREACHABLE / BAD_RESPONSE / NOT_LOGGED_IN / HASH_MISMATCH
 * found by the CLI. `exitCode` follows packages/protocol/src/exit-codes.ts: 10 unreachable or bad response, 11 not
 * authenticated or not allowed, 12 refused (state, conflict, not found, upload rejected), 8 certificate refused.
 */
export class RemoteError extends SealpostError<string> {
  readonly exitCode: ExitCode;
  /** HTTP status when the server answered. */
  readonly status: number | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      status?: number;
      hint?: string;
      details?: Record<string, unknown>;
      cause?: unknown;
      exitCode?: ExitCode;
    } = {},
  ) {
    super(code, message, options);
    this.status = options.status;
    this.exitCode = options.exitCode ?? exitCodeForStatus(code, options.status);
  }
}

function exitCodeForStatus(code: string, status: number | undefined): ExitCode {
  if (code === "CERT_REJECTED" || code === "CERT_NOT_PERSON") return EXIT_CODES.CERTIFICATE;
  if (code === "NOT_LOGGED_IN") return EXIT_CODES.NOT_AUTHORIZED;
  if (code === "HASH_MISMATCH") return EXIT_CODES.INTEGRITY;
  if (status === undefined || status >= 500) return EXIT_CODES.SERVER_UNREACHABLE;
  if (status === 401 || status === 403) return EXIT_CODES.NOT_AUTHORIZED;
  if (status === 400) return EXIT_CODES.USAGE;
  return EXIT_CODES.SERVER_REFUSED;
}

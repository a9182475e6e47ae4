/**
 * The error base shared by every sealpost package. Each domain (cms, pki, cli, server) has its own subclass with a
 * string-union `code`; callers branch on `code`, never on the message. Messages are written for the civil servant
 * who reads them: what failed and, in `hint`, what to do next. Secrets (keys, PINs, plaintext) never go in a message.
 */
export class SealpostError<C extends string = string> extends Error {
  readonly code: C;
  /** A short next step for the user, printed as `sealpost: hint: ...` by the CLI. */
  readonly hint: string | undefined;
  /** Structured facts a caller may print or return as JSON (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: C,
    message: string,
    options: { cause?: unknown; hint?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** True when `e` is a SealpostError (of any domain) with one of the given codes (any code when none given). */
export function isSealpostError(e: unknown, ...codes: string[]): e is SealpostError {
  return e instanceof SealpostError && (codes.length === 0 || codes.includes(e.code));
}

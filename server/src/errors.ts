import { type ApiErrorCode, ERROR_CATALOGUE, SealpostError } from "@sealpost/protocol";

/**
 * The one catalogue of the server's error codes, each with its HTTP status and default message: the API contract's
 * (@sealpost/protocol ERROR_CATALOGUE). Every JSON error response is `{ error: { code, message, hint?, details? } }`.
 */
export { ERROR_CATALOGUE };

export type ServerErrorCode = ApiErrorCode;

/** A typed server error; the HTTP layer turns it into its catalogue status and JSON body. */
export class ServerError extends SealpostError<ServerErrorCode> {
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  constructor(
    code: ServerErrorCode,
    message?: string,
    options: { cause?: unknown; hint?: string; details?: Record<string, unknown> } = {},
  ) {
    super(code, message ?? ERROR_CATALOGUE[code].message, options);
  }
}

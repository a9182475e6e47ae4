import { type ApiErrorCode, SealpostError } from "@sealpost/protocol";

/**
 * Failures the client finds itself (no catalogue code from the server): the server URL is not usable
 * (BAD_URL: not https://, except http:// to this machine), the server could not be reached (SERVER_UNREACHABLE),
 * its TLS certificate is not trusted here (SERVER_CERT_UNTRUSTED, details.tlsCode), https:// was used against a
 * port that does not speak TLS (PROTOCOL_MISMATCH), or it answered something that is not the API's (BAD_RESPONSE).
 */
export type ClientErrorCode =
  | "BAD_URL"
  | "SERVER_UNREACHABLE"
  | "SERVER_CERT_UNTRUSTED"
  | "PROTOCOL_MISMATCH"
  | "BAD_RESPONSE";

/**
 * An error of a client call: the server's refusal (a catalogue code, with the HTTP status, message, hint and
 * details the server sent) or a client-side failure (ClientErrorCode, `status` set only for BAD_RESPONSE).
 * Callers branch on `code`.
 */
export class ApiError extends SealpostError<ApiErrorCode | ClientErrorCode> {
  /** HTTP status when the server answered. */
  readonly status: number | undefined;

  constructor(
    code: ApiErrorCode | ClientErrorCode,
    message: string,
    options: { status?: number; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.status = options.status;
  }
}

import { SealpostError } from "@sealpost/protocol";

/**
 * The one catalogue of the server's error codes, each with its HTTP status and a default message. Every JSON error
 * response is `{ error: { code, message, hint?, details? } }`; the OpenAPI document (server/openapi.json) lists every
 * code (a test checks it).
 */
export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, message: "The request is not valid." },
  UNAUTHENTICATED: { status: 401, message: "Log in first (sealpost login)." },
  LOGIN_FAILED: { status: 401, message: "The login signature could not be verified." },
  FORBIDDEN: { status: 403, message: "You are not allowed to do this." },
  SOURCE_NOT_ALLOWED: { status: 403, message: "Requests from this network address are not allowed for your agency." },
  NOT_FOUND: { status: 404, message: "Not found." },
  CONFLICT: { status: 409, message: "This already exists." },
  ILLEGAL_TRANSITION: { status: 409, message: "The case is not in a state that allows this." },
  RANGE_NOT_SATISFIABLE: { status: 416, message: "The requested byte range is outside the file." },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The file is larger than the server accepts." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Send the file as application/octet-stream." },
  NOT_CMS: { status: 422, message: "The uploaded file is not a CMS envelope (a sealed sealpost file)." },
  RECIPIENTS_MISMATCH: {
    status: 422,
    message: "The file is not sealed to exactly the case's registered recipient certificates.",
  },
  CERT_REJECTED: { status: 422, message: "The certificate is not acceptable." },
  NO_RECIPIENTS: { status: 422, message: "No receiving staff member has a valid encryption certificate." },
  BAD_RECEIPT: { status: 422, message: "The receipt could not be verified." },
  UPLOAD_INCOMPLETE: { status: 400, message: "The upload ended before the whole file arrived; nothing was recorded." },
  UPLOAD_IN_PROGRESS: { status: 409, message: "Another upload to this case is in progress." },
  FILE_GONE: { status: 410, message: "The file has been purged under the retention policy." },
  RATE_LIMITED: {
    status: 429,
    message: "Too many login requests from this network address; wait and try again.",
  },
  INTERNAL: { status: 500, message: "Internal server error." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ServerErrorCode = keyof typeof ERROR_CATALOGUE;

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

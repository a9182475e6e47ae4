import Type, { type Static } from "typebox";

/**
 * The one catalogue of the relay server's error codes, each with its HTTP status and a default message. A contract:
 * clients branch on `code`; codes are only ever added. Every JSON error response is
 * `{ error: { code, message, hint?, details? } }` (ErrorBody). Each endpoint lists the codes it can answer
 * (endpoints.ts); the generated OpenAPI document and server/README.md list the catalogue (tests check both).
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
  SAME_AGENCY: {
    status: 400,
    message: "You cannot send to your own agency: a transfer case goes from one agency to another.",
  },
  CERT_REJECTED: { status: 422, message: "The certificate is not acceptable." },
  CERT_NOT_PERSON: {
    status: 422,
    message: "The certificate does not name this staff member (name, agency subject rules or e-mail address).",
  },
  NO_RECIPIENTS: { status: 422, message: "No receiving staff member has a valid encryption certificate." },
  BAD_RECEIPT: { status: 422, message: "The receipt could not be verified." },
  UPLOAD_INCOMPLETE: { status: 400, message: "The upload ended before the whole file arrived; nothing was recorded." },
  UPLOAD_IN_PROGRESS: { status: 409, message: "Another upload to this case is in progress." },
  FILE_GONE: { status: 410, message: "The file has been purged under the retention policy." },
  RATE_LIMITED: {
    status: 429,
    message: "Too many login requests from this network address; wait and try again.",
  },
  ROSTER_REJECTED: {
    status: 422,
    message: "The roster is not signed by a registered roster officer of the agency, or its version does not grow.",
  },
  NOT_ON_ROSTER: {
    status: 422,
    message: "A recipient is not on the agency's signed roster (pending roster signature).",
  },
  INTERNAL: { status: 500, message: "Internal server error." },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code of the server's error catalogue. */
export type ApiErrorCode = keyof typeof ERROR_CATALOGUE;

/** Every catalogue code, in catalogue order. */
export const API_ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ApiErrorCode[];

/** True when `code` is a code of the server's catalogue. */
export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CATALOGUE, code);
}

/**
 * The body of every non-2xx JSON response. `details` carries structured facts (for example `missing` and
 * `unexpected` of RECIPIENTS_MISMATCH, `retryAfterSeconds` of RATE_LIMITED); never secrets.
 */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "a code of the error catalogue" }),
      message: Type.String(),
      hint: Type.Optional(Type.String({ description: "what to do next" })),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: "Error" },
);
export type ErrorBody = Static<typeof ErrorBody>;
/** The former name of ErrorBody's type. */
export type ApiErrorBody = ErrorBody;

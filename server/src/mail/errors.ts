import { SealpostError } from "@sealpost/protocol";

/**
 * Codes of mail failures raised to callers (delivery failures are not thrown: they are recorded in the outbox,
 * the audit log and the server log, see worker.ts).
 *
 * - BAD_RECIPIENT: an address is empty, malformed or contains line breaks; details.address names it.
 * - NO_RECIPIENTS: the message has no recipient at all.
 * - BAD_MESSAGE: subject or kind is empty, or the subject contains line breaks.
 * - BAD_CONFIG: the SMTP or worker settings are unusable (missing host, port out of range, zero backoff...).
 */
export type MailErrorCode = "BAD_RECIPIENT" | "NO_RECIPIENTS" | "BAD_MESSAGE" | "BAD_CONFIG";

/** Every failure the mail module throws. Messages never contain message bodies or SMTP passwords. */
export class MailError extends SealpostError<MailErrorCode> {}

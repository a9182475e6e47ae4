import { SealpostError } from "@sealpost/protocol";

/** BAD_CONFIG: retentionDays is not a number of days >= 0. */
export type RetentionErrorCode = "BAD_CONFIG";

/** Thrown by the retention module for unusable settings (purge failures are logged and reported, not thrown). */
export class RetentionError extends SealpostError<RetentionErrorCode> {}

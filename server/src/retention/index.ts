export { ENDED_STATES } from "./candidates.js";
export { RetentionError, type RetentionErrorCode } from "./errors.js";
export { checkRetentionDays, type PurgeOptions, type PurgeResult, purgeExpiredFiles } from "./purge.js";
export { type RetentionStatus, retentionStatus } from "./status.js";
export {
  type RetentionRunResult,
  type RetentionWorker,
  type RetentionWorkerOptions,
  startRetentionWorker,
} from "./worker.js";

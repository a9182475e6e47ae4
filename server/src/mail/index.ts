export { type BackoffPolicy, backoffDelayMs } from "./backoff.js";
export { MailError, type MailErrorCode } from "./errors.js";
export { migrations } from "./migrations.js";
export {
  enqueueMail,
  getOutboxEntry,
  MAIL_STATES,
  type MailState,
  type MailStatus,
  mailStatus,
  type OutboxEntry,
  type OutboxMessage,
  pruneSentMail,
  requeueFailedMail,
} from "./outbox.js";
export {
  type CaseMailInfo,
  type DropMailInfo,
  type RenderedMail,
  renderDropFailingMail,
  renderNewCaseMail,
  renderProcessedMail,
} from "./templates.js";
export {
  type MailAuditEntry,
  type MailWorker,
  type MailWorkerConfig,
  type MailWorkerHooks,
  type SmtpSettings,
  startMailWorker,
} from "./worker.js";

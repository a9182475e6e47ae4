import type { AuditEntryInput } from "../audit/log.js";
import type { Logger } from "../log.js";
import type { EnvelopeSummary } from "./envelope.js";
import type { DeliverySource, PayloadSink } from "./ports.js";
import type { SftpSession } from "./sftp.js";
import type { Db } from "../db/db.js";
import type { UnitOfWork } from "../db/uow.js";
import type { DropRepository } from "./repository.js";
import type { Drop, RunError } from "./types.js";

/** Something that happened to one file during a run (for listeners: logs, tests, metrics). */
export interface DropFileEvent {
  drop: string;
  runId: number;
  /** Remote file name. */
  name: string;
  stage: "registered" | "processed" | "recovered" | "rejected" | "delivered" | "skipped";
  sha256?: string;
  caseId?: string;
  reason?: string;
}

/** Counters of one run, kept across its attempts. */
export interface RunProgress {
  files: number;
  bytes: number;
  errors: RunError[];
}

/** Everything one attempt of a run works with. */
export interface RunContext {
  drop: Drop;
  runId: number;
  session: SftpSession;
  db: Db;
  /** Runs `fn` on the drops repository in a transaction of its own. */
  drops<T>(fn: (r: DropRepository) => Promise<T>): Promise<T>;
  sink: PayloadSink;
  deliveries: DeliverySource;
  /** A fresh local temp path (not yet existing) on the file store's file system. */
  newTempPath: () => string;
  inspect: (path: string) => Promise<EnvelopeSummary>;
  /** Appends to the audit chain inside the transaction of `uow`. */
  audit: (uow: UnitOfWork, entry: AuditEntryInput) => Promise<void>;
  progress: RunProgress;
  emit: (event: DropFileEvent) => void;
  log: Logger;
  /** Largest sealed file pulled (bytes). */
  maxFileBytes: number;
  /** Most entries of one outbox listing looked at per attempt (DropServiceOptions.maxListEntries). */
  maxListEntries: number;
  now: () => Date;
}

/** Shapes of the drops module as the API returns them (no key material ever appears here). */

export type DropDirection = "pull" | "push";

/**
 * When a pulled file counts as complete. "sidecar" (default): the agency writes NAME.p7m first and the sidecar
 * NAME.p7m.json last, so the sidecar's presence means both are whole. "marker": the agency writes both files in any
 * order and then an empty NAME.p7m.done; nothing is taken before the marker exists.
 */
export type DropCompletion = "sidecar" | "marker";

export interface Drop {
  name: string;
  agency: string;
  direction: DropDirection;
  host: string;
  port: number;
  username: string;
  /** Absolute remote folder: the agency's outbox (pull) or inbox (push). */
  remoteDir: string;
  /** Pinned host key fingerprint, "SHA256:..." as OpenSSH prints it. */
  hostKeySha256: string;
  /** Cron expression (croner syntax; 5 fields, or 6 with seconds first). */
  schedule: string;
  completion: DropCompletion;
  enabled: boolean;
  /** Attempts per run before it fails (default 3). */
  maxAttempts: number;
  /** First retry delay; doubles each attempt (default 5000 ms). */
  retryBaseMs: number;
  /** Who gets the "drop failing" email (default: none besides the server's ops list). */
  notifyEmails: string[];
  /** "failing" after a run used up its attempts; back to "ok" after the next good run. */
  health: "ok" | "failing";
  consecutiveFailures: number;
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
}

/** Input of `POST /v1/drops`. The private key is stored in the data folder, never in the database. */
export interface DropInput {
  name: string;
  agency: string;
  direction: DropDirection;
  host: string;
  port?: number;
  username: string;
  privateKey: string;
  remoteDir: string;
  hostKeySha256: string;
  schedule: string;
  completion?: DropCompletion;
  enabled?: boolean;
  maxAttempts?: number;
  retryBaseMs?: number;
  notifyEmails?: string[];
}

/** "partial": the run took what it could and refused some files (their reasons are in the run's errors). */
export type RunStatus = "running" | "ok" | "partial" | "failed" | "aborted";

/** One problem met during a run: a failed attempt (no `file`) or a rejected / undeliverable file. */
export interface RunError {
  at: string;
  code: string;
  message: string;
  file?: string;
  attempt?: number;
}

export interface DropRun {
  id: number;
  drop: string;
  trigger: "schedule" | "manual";
  startedAt: string;
  endedAt: string | null;
  status: RunStatus;
  attempts: number;
  /** Files registered (pull) or delivered (push) by this run. */
  files: number;
  /** Bytes of those files. */
  bytes: number;
  errors: RunError[];
}

/** Case fields a pulled file's sidecar carries: the same fields as `sealpost send`. */
export interface DropCaseFields {
  category: string;
  receivingAgency: string;
  records: number;
  uploadNo: string;
  remark: string;
  /** E-mail of the sending agency's staff member the case is registered for. */
  senderEmail: string;
  /** Receiving staff by e-mail; absent: every active staff member of the receiving agency (as `sealpost send`). */
  receivers?: string[];
}

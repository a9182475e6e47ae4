import { SealpostError } from "@sealpost/protocol";

/**
 * Codes of SFTP drop failures. Run-level codes (connection, host key, I/O) end or retry a run; file-level codes
 * (sidecar, not CMS, recipients) send one pulled file to the remote `failed/` folder with the message as its reason.
 */
export type DropErrorCode =
  /** The server's host key is not the pinned one: possible interception or a re-installed server. Never retried. */
  | "HOST_KEY_MISMATCH"
  /** The SFTP login was refused (wrong user or key not authorised). Never retried. */
  | "AUTH_FAILED"
  /** The drop's private key file is missing or unreadable in <data>/drops/keys/. Never retried. */
  | "KEY_MISSING"
  /** The server could not be reached, or the connection dropped. Retried with backoff. */
  | "CONNECT_FAILED"
  /** An SFTP operation failed (permissions, missing folder, connection lost mid-transfer). Retried with backoff. */
  | "SFTP_IO"
  /** The sidecar NAME.p7m.json is missing, too large, not JSON, or lacks a required case field. */
  | "BAD_SIDECAR"
  /** The pulled file is not a CMS envelope (a sealed sealpost file). */
  | "NOT_CMS"
  /** The pulled file is not sealed to exactly the case's recipients, or the case was refused by the server. */
  | "REJECTED"
  /** A run of this drop is already in progress (in this process or another live one). */
  | "RUN_IN_PROGRESS";

/** An SFTP drop failure. `retryable` says whether the run may try again after a backoff. */
export class DropError extends SealpostError<DropErrorCode> {
  get retryable(): boolean {
    return this.code === "CONNECT_FAILED" || this.code === "SFTP_IO";
  }
}

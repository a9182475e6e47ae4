import type { Readable } from "node:stream";
import type { Db } from "../db/db.js";
import type { DropCaseFields } from "./types.js";

/**
 * What the drops module needs from the rest of the server, as small interfaces: the service is wired with
 * server-core's implementations (see `coreDeliverySource` and server-core's payload registration), tests may pass
 * their own.
 */

/** The facts of a pulled sealed file that registration needs. */
export interface PulledFile {
  /** Temporary file holding the whole download (mode 0600), on the same file system as the file store. */
  tempPath: string;
  sha256: string;
  size: number;
  /** Drop that pulled it and the remote file name, for the audit trail. */
  drop: string;
  remoteName: string;
  /** Agency that owns the drop; the sender staff member must belong to it. */
  dropAgency: string;
}

/**
 * Registers a pulled sealed file as a new case's payload, exactly like `sealpost send` (register the case, then upload):
 * checks that the sender staff member belongs to `file.dropAgency`, that the file is a CMS envelope whose recipients
 * are exactly the case's recipient certificates, stores the file, moves the case to "sent", writes the audit entries
 * and queues the notices, all in one transaction. It may move or delete `tempPath`.
 *
 * Refusals that concern the file or its fields (recipients mismatch, unknown category or staff, not CMS...) must be
 * thrown as a SealpostError (any code): the file then goes to the remote failed/ folder with the message. Any other
 * error (database busy, disk full) is taken as transient: the run attempt fails and is retried, the file stays.
 */
export interface PayloadSink {
  registerPayload(fields: DropCaseFields, file: PulledFile): Promise<{ caseId: string }>;
  /**
   * The case whose payload is the file with this SHA-256, sent by `agency`, if any. Used to recover a registration
   * whose outcome was lost (crash after the commit, before drop_files was updated).
   */
  findCaseByPayload(sha256: string, agency: string): Promise<string | undefined>;
}

/** A sealed file waiting to be pushed into an agency's SFTP inbox. */
export interface Deliverable {
  caseId: string;
  /** "payload": the agency receives the case. "result": the agency sent the case and the result is back. */
  kind: "payload" | "result";
  /** Remote file name (no folders). */
  fileName: string;
  sha256: string;
  size: number;
  /** Opens the stored sealed file for streaming. */
  open(): Readable;
}

/** The sealed files an agency should find in its inbox now. */
export interface DeliverySource {
  pending(agency: string): Promise<Deliverable[]>;
}

/** The minimal file store the default delivery source reads from (server-core's FileStore fits). */
export interface SealedFileReader {
  read(sha256: string): Readable;
}

/**
 * Delivery source over the cases domain: payloads of cases the agency receives in state "sent", and results of cases
 * the agency sent in state "processed". Remote names: `<caseId>.payload.p7m` and `<caseId>.result.p7m`.
 */
export function coreDeliverySource(db: Db, files: SealedFileReader): DeliverySource {
  return {
    async pending(agency) {
      const items = await db.read((uow) => uow.cases.pendingDeliveries(agency));
      return items.map((r) => ({
        caseId: r.caseId,
        kind: r.kind,
        fileName: `${r.caseId}.${r.kind}.p7m`,
        sha256: r.sha256,
        size: r.size,
        open: () => files.read(r.sha256),
      }));
    },
  };
}

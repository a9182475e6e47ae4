import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { type ServerConfig, uploadLeaseTimes } from "../config.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../log.js";

/**
 * One upload at a time per case. An upload takes the case's lease (`upload:<case id>` in the job leases table,
 * jobs-001, the same mechanism that keeps a background job on one instance) before it reads a byte of its body, and
 * gives it back when it ends, however it ends; a second upload meanwhile is refused at once with 409
 * UPLOAD_IN_PROGRESS instead of racing the first (both spooling up to maxUploadBytes, one failing only at the end).
 * The lease lives in the database, so it holds between relay instances sharing one. The holder renews it every
 * `uploadLease.renewMs` of the configuration (default 30 s) while the body streams; a lease not renewed for
 * `uploadLease.ttlMs` (default 2 min: its instance died) is taken over by the next upload, so a retry after a kill
 * goes through once that time has passed. A SQLite relay (one instance) drops all of them at start.
 */

/** The lease names' prefix; the case id follows. */
export const UPLOAD_LEASE_PREFIX = "upload:";

/** A held upload lease, renewed in the background until released. */
export interface UploadLease {
  /** Gives the lease back (idempotent; a failure is logged, the lease then expires by itself). */
  release(): Promise<void>;
}

/** Takes the upload lease of `caseId`: ServerError UPLOAD_IN_PROGRESS when another upload holds a live one. */
export async function acquireUploadLease(
  deps: { db: Db; clock: Clock; log: Logger; config?: Pick<ServerConfig, "uploadLease"> },
  caseId: string,
): Promise<UploadLease> {
  const { db, clock, log } = deps;
  const { ttlMs, renewMs } = uploadLeaseTimes(deps.config ?? {});
  const name = `${UPLOAD_LEASE_PREFIX}${caseId}`;
  const owner = `upload-${randomBytes(12).toString("hex")}`;
  const take = () => db.tx((uow) => uow.leases.acquire(name, owner, clock.now(), ttlMs));
  if (!(await take())) {
    throw new ServerError("UPLOAD_IN_PROGRESS", `Another upload to case ${caseId} is in progress.`, {
      hint: "Wait until that upload has finished (or failed), then look at the case before sending again.",
      details: { caseId },
    });
  }
  const timer = setInterval(() => {
    take().catch((e) =>
      log.warn("cases: could not renew an upload lease", { caseId, error: e instanceof Error ? e.message : String(e) }),
    );
  }, renewMs);
  timer.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await db
        .tx((uow) => uow.leases.release(name, owner))
        .catch((e) =>
          log.warn("cases: could not give an upload lease back", {
            caseId,
            error: e instanceof Error ? e.message : String(e),
          }),
        );
    },
  };
}

import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { type ServerConfig, uploadLeaseTimes, uploadLimitsOf } from "../config.js";
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

/**
 * Takes the upload lease of `caseId` and one of the uploader's upload slots (`upload:staff:<staff id>:<n>`, at most
 * `uploadLimits.perStaff`, default 2) and one of the relay's (`upload:all:<n>`, at most `uploadLimits.total`, default
 * 16), so one staff member cannot make the relay spool many files at once by registering many cases. ServerError
 * UPLOAD_IN_PROGRESS (409, with a hint and details.limit) when the case's lease or every slot is held; nothing is
 * kept then.
 */
export async function acquireUploadLease(
  deps: { db: Db; clock: Clock; log: Logger; config?: Pick<ServerConfig, "uploadLease" | "uploadLimits"> },
  caseId: string,
  staffId: string,
): Promise<UploadLease> {
  const limits = uploadLimitsOf(deps.config ?? {});
  const held: UploadLease[] = [];
  const fail = async (e: ServerError): Promise<never> => {
    for (const l of held) await l.release();
    throw e;
  };
  const onCase = await holdLease(deps, `${UPLOAD_LEASE_PREFIX}${caseId}`, { caseId });
  if (!onCase) {
    throw new ServerError("UPLOAD_IN_PROGRESS", `Another upload to case ${caseId} is in progress.`, {
      hint: "Wait until that upload has finished (or failed), then look at the case before sending again.",
      details: { caseId },
    });
  }
  held.push(onCase);
  const mine = await holdSlot(deps, `${UPLOAD_LEASE_PREFIX}staff:${staffId}:`, limits.perStaff, { caseId });
  if (!mine) {
    return fail(
      new ServerError("UPLOAD_IN_PROGRESS", `You already have ${limits.perStaff} uploads in progress.`, {
        hint: "Wait until one of your uploads has finished, then send this one.",
        details: { caseId, limit: limits.perStaff, scope: "staff" },
      }),
    );
  }
  held.push(mine);
  const relay = await holdSlot(deps, `${UPLOAD_LEASE_PREFIX}all:`, limits.total, { caseId });
  if (!relay) {
    return fail(
      new ServerError("UPLOAD_IN_PROGRESS", `The relay is receiving ${limits.total} uploads already.`, {
        hint: "Try again in a few minutes.",
        details: { caseId, limit: limits.total, scope: "relay" },
      }),
    );
  }
  held.push(relay);
  return {
    async release() {
      for (const l of held) await l.release();
    },
  };
}

/** The first free of `slots` leases named `<prefix><n>`, held; undefined when all are held. */
async function holdSlot(
  deps: { db: Db; clock: Clock; log: Logger; config?: Pick<ServerConfig, "uploadLease"> },
  prefix: string,
  slots: number,
  context: Record<string, string>,
): Promise<UploadLease | undefined> {
  for (let n = 0; n < slots; n++) {
    const l = await holdLease(deps, `${prefix}${n}`, context);
    if (l) return l;
  }
  return undefined;
}

/** Takes the lease `name` and renews it until released; undefined when another holder has a live one. */
async function holdLease(
  deps: { db: Db; clock: Clock; log: Logger; config?: Pick<ServerConfig, "uploadLease"> },
  name: string,
  context: Record<string, string>,
): Promise<UploadLease | undefined> {
  const { db, clock, log } = deps;
  const { ttlMs, renewMs } = uploadLeaseTimes(deps.config ?? {});
  const owner = `upload-${randomBytes(12).toString("hex")}`;
  const take = () => db.tx((uow) => uow.leases.acquire(name, owner, clock.now(), ttlMs));
  if (!(await take())) return undefined;
  const timer = setInterval(() => {
    take().catch((e) =>
      log.warn("cases: could not renew an upload lease", {
        ...context,
        error: e instanceof Error ? e.message : String(e),
      }),
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
            ...context,
            error: e instanceof Error ? e.message : String(e),
          }),
        );
    },
  };
}

import { registerPayloadFromFile } from "../cases/service.js";
import type { ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { findCaseByPayloadInCore, type PayloadSink } from "./ports.js";

/**
 * The production PayloadSink: server-core's `registerPayloadFromFile` (same checks, transaction, audit and notices
 * as a manual `sealpost send`). The sidecar's sender must be an active staff member of the drop's own agency; an
 * agency's outbox can never register cases in another agency's name. Temp files must come from `ctx.store.tempPath()`
 * (pass it as the DropService `tempPath` option).
 */
export function corePayloadSink(ctx: ServerContext): PayloadSink {
  return {
    async registerPayload(fields, file) {
      const staff = ctx.db
        .prepare("SELECT id, agency FROM staff WHERE email = ? COLLATE NOCASE AND active = 1")
        .get(fields.senderEmail) as { id: string; agency: string } | undefined;
      if (!staff) {
        throw new ServerError("NOT_FOUND", `No active staff member has the sender e-mail ${fields.senderEmail}.`, {
          hint: "Put the e-mail of a registered sender of this agency in the sidecar's senderEmail.",
        });
      }
      if (staff.agency !== file.dropAgency) {
        throw new ServerError(
          "FORBIDDEN",
          `The sender ${fields.senderEmail} is not staff of ${file.dropAgency}, the agency of this drop.`,
        );
      }
      const dto = await registerPayloadFromFile(ctx, {
        caseFields: {
          category: fields.category,
          receivingAgency: fields.receivingAgency,
          recordCount: fields.records,
          uploadNo: fields.uploadNo,
          remarks: fields.remark,
          ...(fields.receivers ? { receivers: fields.receivers } : {}),
        },
        senderStaffId: staff.id,
        tempPath: file.tempPath,
        sha256: file.sha256,
        size: file.size,
        actorLabel: `drop:${file.drop}`,
      });
      return { caseId: dto.id };
    },
    findCaseByPayload(sha256, agency) {
      return findCaseByPayloadInCore(ctx.db, sha256, agency);
    },
  };
}

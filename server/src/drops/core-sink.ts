import type { CaseService } from "../cases/service.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import type { PayloadSink } from "./ports.js";

/**
 * The production PayloadSink: the cases domain's registerPayloadFromFile (same checks, transaction, audit and
 * notices as a manual `sealpost send`). The sidecar's sender must be an active staff member of the drop's own agency;
 * an agency's outbox can never register cases in another agency's name. Temp files must come from the file store's
 * tempPath() (pass it as the DropService `tempPath` option).
 */
export function corePayloadSink(deps: { cases: CaseService; db: Db }): PayloadSink {
  return {
    async registerPayload(fields, file) {
      const staff = await deps.db.read((uow) => uow.registry.activeStaffByEmail(fields.senderEmail));
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
      const dto = await deps.cases.registerPayloadFromFile({
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
    findCaseByPayload: (sha256, agency) => deps.cases.caseByPayload(sha256, agency),
  };
}

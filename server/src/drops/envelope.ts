import { createReadStream } from "node:fs";
import { isSealpostError } from "@sealpost/protocol";
import { inspectCms } from "../crypto.js";
import { DropError } from "./errors.js";

/** What the drops module reads from a sealed file without keys (a subset of @sealpost/cms InspectResult). */
export interface EnvelopeSummary {
  contentType: string;
  recipients: { type: string; issuer?: string; serialHex?: string; subjectKeyIdHex?: string }[];
}

/**
 * Reads the envelope of the sealed file at `path` with @sealpost/cms `inspect` (streaming, constant memory, no keys)
 * and checks it is an encrypted envelope (authEnvelopedData or envelopedData). Throws DropError NOT_CMS with the
 * reason otherwise. The recipient check against the case is the payload sink's (server-core's upload rules).
 */
export async function inspectSealedFile(path: string): Promise<EnvelopeSummary> {
  let summary: EnvelopeSummary;
  try {
    summary = await inspectCms(createReadStream(path));
  } catch (e) {
    if (isSealpostError(e)) {
      throw new DropError("NOT_CMS", `The file is not a sealed sealpost file (CMS envelope): ${e.message}`, {
        cause: e,
        hint: "Seal the batch with `sealpost seal` (or openssl cms -encrypt) to the case's recipients and drop it again.",
      });
    }
    throw e;
  }
  if (summary.contentType !== "authEnvelopedData" && summary.contentType !== "envelopedData") {
    throw new DropError("NOT_CMS", `The file is CMS ${summary.contentType}, not an encrypted envelope.`, {
      hint: "The file must be encrypted to the receiving staff, not only signed: use `sealpost seal`.",
    });
  }
  return summary;
}

import type { TransferManifest } from "@sealpost/protocol";
import type { Output } from "../output.js";

/** The manifest as the --json contract shows it (every field present, null when absent). */
export function manifestJson(
  m: TransferManifest | undefined,
): Record<string, string | number | string[] | null> | null {
  if (!m) return null;
  return {
    caseId: m.caseId ?? null,
    senderAgency: m.senderAgency ?? null,
    receivingAgency: m.receivingAgency ?? null,
    fileName: m.fileName ?? null,
    byteSize: m.byteSize ?? null,
    recordCount: m.recordCount ?? null,
    uploadNo: m.uploadNo ?? null,
    recipients: m.recipients ?? null,
  };
}

/** Prints a manifest's fields. */
export function printManifest(out: Output, m: TransferManifest, indent = ""): void {
  out.line(`${indent}Manifest:`);
  out.fields(
    [
      ["Case", m.caseId],
      ["Sender agency", m.senderAgency],
      ["Receiving agency", m.receivingAgency],
      ["File name", m.fileName],
      ["Byte size", m.byteSize],
      ["Records", m.recordCount],
      ["Upload no.", m.uploadNo],
      ["Sealed for", m.recipients ? `${m.recipients.length} recipient certificate(s) (SHA-256)` : undefined],
    ],
    `${indent}  `,
  );
}

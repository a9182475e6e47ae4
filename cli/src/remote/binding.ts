import type { CaseDto, TransferManifest } from "@sealpost/protocol";

/**
 * The fields of a signed transfer manifest that name a case, compared with the case the file was downloaded for.
 * Returns the first field that disagrees (`{ field, inFile, inCase }`), or undefined when every field the manifest
 * carries matches. A manifest without a field (a file sealed before its case existed, e.g. from an SFTP drop) is
 * not refused for the missing field; a file without a manifest is not refused here at all.
 */
export function manifestMismatch(
  manifest: TransferManifest | undefined,
  c: Pick<CaseDto, "id" | "senderAgency" | "receivingAgency" | "uploadNo">,
): { field: string; inFile: string; inCase: string } | undefined {
  if (!manifest) return undefined;
  const pairs: [string, unknown, string][] = [
    ["caseId", manifest.caseId, c.id],
    ["senderAgency", manifest.senderAgency, c.senderAgency],
    ["receivingAgency", manifest.receivingAgency, c.receivingAgency],
    ["uploadNo", manifest.uploadNo, c.uploadNo],
  ];
  for (const [field, inFile, inCase] of pairs) {
    if (inFile !== undefined && inFile !== "" && String(inFile) !== inCase) {
      return { field, inFile: String(inFile), inCase };
    }
  }
  return undefined;
}

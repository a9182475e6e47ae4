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

/**
 * Checks that the CMS signer of an opened case file is its uploader: the case DTO's `uploadedBy` (recorded by the
 * server from the authenticated uploader) must belong to the side that sends this kind of file (the sending agency
 * for the payload, the receiving agency for the result) and list the signer certificate's SHA-256 among the
 * uploader's registered signing certificates. Returns why it is not (a sentence), or undefined when it is.
 * A file without a signer, or a case that does not say who uploaded the file, is refused: nothing proves its sender.
 */
export function signerMismatch(
  signerSha256: string | undefined,
  kind: "payload" | "result",
  c: Pick<CaseDto, "senderAgency" | "receivingAgency" | "payload" | "result">,
): string | undefined {
  if (!signerSha256) return "the file is not signed";
  const by = c[kind]?.uploadedBy;
  if (!by) return `the server does not say who uploaded the ${kind}`;
  const side = kind === "payload" ? c.senderAgency : c.receivingAgency;
  if (by.agency !== side) return `the ${kind} was uploaded by staff of ${by.agency}, not of ${side}`;
  if (!by.signingCertSha256.map((h) => h.toLowerCase()).includes(signerSha256.toLowerCase())) {
    return `the file was signed with certificate sha256 ${signerSha256}, which is not a registered signing certificate of the staff member who uploaded it (${by.staffId})`;
  }
  return undefined;
}

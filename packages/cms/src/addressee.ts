import type { CertInfo } from "@sealpost/pki";
import { nameAttributeValues } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import { CmsError } from "./errors.js";

/**
 * Is the person opening a file the one the sender sealed it for? A recipient can strip the envelope and encrypt the
 * signed content to a third person (forwarding): the signature still checks out, so the signed transfer manifest is
 * what tells. "The opener is named" means:
 *
 * 1. the manifest carries `recipients` (SHA-256 of each recipient's encryption certificate, written by seal since
 *    this rule): the SHA-256 of the certificate whose key decrypted the file is among them; else
 * 2. the manifest carries `receivingAgency`: it equals one of the opener's agencies (compared after NFKC, case
 *    folding and space folding): `agencies` when given (the CLI's configured agency), else the O and OU values of
 *    the decrypting certificate's subject (e.g. 高雄市稅捐稽徵處 and KHH-TAX). This is weaker: a colleague of the
 *    receiving agency who got a forwarded copy is not caught; only the recipient hashes catch that;
 * 3. neither: nothing to check ("unchecked").
 */
export type AddresseeVerdict =
  | { verdict: "named"; by: "recipients" | "receiving-agency" }
  | { verdict: "unchecked" }
  | { verdict: "not-named"; reason: "recipients" | "receiving-agency"; yourAgencies: string[] };

export function addresseeOf(
  manifest: TransferManifest | undefined,
  opener: CertInfo,
  agencies: string[] | undefined,
): AddresseeVerdict {
  const yourAgencies = agencies ?? agenciesOf(opener);
  if (manifest?.recipients?.length) {
    return manifest.recipients.includes(opener.sha256.toLowerCase())
      ? { verdict: "named", by: "recipients" }
      : { verdict: "not-named", reason: "recipients", yourAgencies };
  }
  if (manifest?.receivingAgency) {
    const want = fold(manifest.receivingAgency);
    return yourAgencies.some((a) => fold(a) === want)
      ? { verdict: "named", by: "receiving-agency" }
      : { verdict: "not-named", reason: "receiving-agency", yourAgencies };
  }
  return { verdict: "unchecked" };
}

/** FORWARDED: the signed manifest does not name the opener (see addresseeOf). */
export function forwarded(
  manifest: TransferManifest,
  opener: CertInfo,
  v: Extract<AddresseeVerdict, { verdict: "not-named" }>,
): CmsError {
  const whom =
    v.reason === "recipients"
      ? `${manifest.recipients!.length} recipient certificate(s)${manifest.receivingAgency ? ` of ${manifest.receivingAgency}` : ""}, and yours is not one of them`
      : `the receiving agency ${manifest.receivingAgency}, and yours is ${v.yourAgencies.join(" / ") || "unknown"}`;
  return new CmsError(
    "FORWARDED",
    `This file was not sealed for you: its signed manifest names ${whom}. Someone who received it encrypted it again for you (forwarded).`,
    {
      hint: "Ask the sender to seal it for you, or open it with --allow-forwarded if you accept a forwarded copy.",
      details: {
        reason: v.reason,
        receivingAgency: manifest.receivingAgency ?? null,
        yourAgencies: v.yourAgencies,
        yourCertificateSha256: opener.sha256,
        ...(manifest.recipients ? { recipients: manifest.recipients } : {}),
      },
    },
  );
}

function agenciesOf(cert: CertInfo): string[] {
  try {
    return nameAttributeValues(cert.subjectDer, ["O", "OU"]);
  } catch {
    return [];
  }
}

function fold(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

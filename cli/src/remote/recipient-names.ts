import {
  type CertIdentity,
  type CertInfo,
  certificateIdentity,
  PkiError,
  parseCertificates,
  personBindingProblems,
  type TrustPolicy,
} from "@sealpost/pki";
import type { ProfileRecipient } from "@sealpost/protocol";

/**
 * Names of recipients as a sender sees them. The relay's registry names each recipient, but the relay is not trusted
 * to say who holds a certificate: the name shown is the certificate's own subject CN, parsed here from the PEM the
 * server sent (never the server's parsed fields), with the registry's name beside it. When the two differ (or an
 * e-mail address in the certificate is not the registry's), the recipient carries a warning.
 */

/** One recipient as shown by send, reply and case show (and in their --json output). */
export interface RecipientView {
  staffId: string;
  email: string;
  agency: string;
  /** The name shown: the certificate's subject CN ("" when the certificate has none or cannot be read). */
  name: string;
  /** The same: the certificate's CN. */
  certificateName: string;
  /** What the relay's registry calls this person. */
  registryName: string;
  certificateSubject: string;
  certificateSha256: string;
  /** Why the certificate does not match the registry's record, or null when it does. */
  warning: string | null;
}

/** The certificate of a profile entry and what it states, or why it cannot be read (hostile input is expected). */
function parsedOf(r: ProfileRecipient): { cert?: CertInfo; id?: CertIdentity; error?: string } {
  try {
    const [cert] = parseCertificates(r.certificate.pem);
    return cert ? { cert, id: certificateIdentity(cert) } : { error: "no certificate in the server's answer" };
  } catch (e) {
    return { error: e instanceof PkiError ? e.message : "the certificate is malformed" };
  }
}

/** The recipients of a profile named from their certificates (see the module comment). Never throws for a name. */
export function recipientViews(recipients: readonly ProfileRecipient[]): RecipientView[] {
  return recipients.map((r) => {
    const base = { staffId: r.staffId, email: r.email, agency: r.agency, registryName: r.name };
    const { cert, id, error } = parsedOf(r);
    if (!cert || !id) {
      return {
        ...base,
        name: "",
        certificateName: "",
        certificateSubject: "",
        certificateSha256: "",
        warning: `recipient ${r.email}: the certificate cannot be read (${error}); the registry names ${r.name}`,
      };
    }
    const problems = personBindingProblems(id, { name: r.name, email: r.email }).filter((p) => p.check !== "agency");
    return {
      ...base,
      name: id.commonName,
      certificateName: id.commonName,
      certificateSubject: id.subject,
      certificateSha256: cert.sha256,
      warning: problems.length
        ? `recipient ${r.email}: the registry names ${r.name}, but ${problems.map((p) => p.message).join("; ")} (certificate subject ${id.subject})`
        : null,
    };
  });
}

/**
 * Adds a warning to each view whose certificate the user's trust policy refuses for encryption now (case show: the
 * names are only as good as the certificate's issuer). Views that already carry a warning keep it first.
 */
export async function checkRecipientTrust(
  views: RecipientView[],
  recipients: readonly ProfileRecipient[],
  trust: { policy: TrustPolicy; intermediates: CertInfo[] },
): Promise<void> {
  for (const [i, r] of recipients.entries()) {
    const v = views[i]!;
    let certs: CertInfo[];
    try {
      certs = parseCertificates(r.certificate.pem);
    } catch {
      continue; // already warned by recipientViews
    }
    const [cert, ...chain] = certs;
    if (!cert) continue;
    try {
      await trust.policy.validate(cert, { purpose: "encrypt", intermediates: [...chain, ...trust.intermediates] });
    } catch (e) {
      const why = `recipient ${r.email}: the certificate is not trusted here (${e instanceof Error ? e.message : String(e)})`;
      v.warning = v.warning ? `${v.warning}; ${why}` : why;
    }
  }
}

/** A report line for one recipient: the certificate's name, the registry's beside it when different. */
export function recipientLine(v: RecipientView): string {
  const shown = v.certificateName || "(no name in the certificate)";
  const registry = v.warning && v.registryName !== v.certificateName ? ` [registry: ${v.registryName}]` : "";
  return `${shown}${registry} <${v.email}> (${v.agency})`;
}

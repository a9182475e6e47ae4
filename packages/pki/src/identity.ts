import { parseName } from "./names.js";
import { parseCert } from "./trust/x509.js";
import type { CertInfo } from "./types.js";

/**
 * Who a certificate names, and whether that is a given person: the one model the relay's registry (registration
 * refuses a certificate bound to the wrong person) and the CLI (names shown to a sender come from the certificate)
 * share.
 *
 * The binding rules, all of which must hold:
 * - name: the subject's commonName equals the person's registered name;
 * - agency: for each of the agency's subject rules ("O=高雄市稅捐稽徵處", "OU=KHH-TAX"), the subject carries that
 *   attribute with that value;
 * - email: every e-mail address the certificate names (subjectAltName rfc822Name, and a subject emailAddress
 *   attribute) equals the person's registered address; a certificate that names none passes.
 * Names and attribute values compare after NFKC normalisation with runs of white space collapsed and ends trimmed,
 * Latin letters without regard to case (RFC 4518 in spirit); e-mail addresses compare without regard to case.
 */

/** One subject rule of an agency: an attribute (short name such as "O", "OU", "C", or a dotted OID) and its value. */
export interface SubjectRule {
  attribute: string;
  value: string;
}

/** What a certificate says about its holder. */
export interface CertIdentity {
  /** The subject's (last) commonName, or "" when absent. */
  commonName: string;
  /** The subject as text, e.g. "C=TW, O=高雄市稅捐稽徵處, OU=KHH-TAX, CN=王建民". */
  subject: string;
  /** Every string attribute of the subject, in encoded order: short name (or dotted OID), OID, value. */
  attributes: Array<SubjectRule & { oid: string }>;
  /** E-mail addresses in subjectAltName (rfc822Name) and in subject emailAddress attributes, as written. */
  emails: string[];
}

/** A person as a registry holds them. */
export interface RegisteredPerson {
  name: string;
  email: string;
}

/** One failed binding rule. `check`: which rule; `message`: what differs, naming both sides. */
export interface BindingProblem {
  check: "name" | "agency" | "email";
  message: string;
}

const OID_EMAIL_ATTRIBUTE = "1.2.840.113549.1.9.1";

/** Normalises a name or attribute value for comparison (see the module comment). */
export function normalizeNameValue(v: string): string {
  return v.normalize("NFKC").replace(/\s+/g, " ").trim().toLowerCase();
}

/** True when two person names (or attribute values) are the same after normalisation. */
export function sameNameValue(a: string, b: string): boolean {
  return normalizeNameValue(a) === normalizeNameValue(b);
}

/** The identity a certificate states. The certificate must already be parsed (parseCertificate). */
export function certificateIdentity(cert: CertInfo): CertIdentity {
  const rdns = parseName(cert.subjectDer, "certificate subject");
  const attributes: CertIdentity["attributes"] = [];
  const emails: string[] = [];
  for (const rdn of rdns) {
    for (const a of rdn) {
      if (a.value === undefined) continue;
      attributes.push({ attribute: a.shortName, oid: a.type, value: a.value });
      if (a.type === OID_EMAIL_ATTRIBUTE) emails.push(a.value);
    }
  }
  for (const g of parseCert(cert.der).subjectAltNames ?? []) if (g.kind === "email") emails.push(g.value);
  return { commonName: cert.commonName, subject: cert.subject, attributes, emails };
}

const RULE_RE = /^\s*([A-Za-z][A-Za-z0-9-]{0,63}|\d+(?:\.\d+){1,63})\s*=(.*)$/s;

/**
 * Parses a subject rule written "ATTR=VALUE" (e.g. "O=高雄市稅捐稽徵處"): ATTR a known short name (C, O, OU, L, ST,
 * CN, serialNumber, title, DC, UID, emailAddress ..., any case) or a dotted OID, VALUE non-empty text of at most
 * 200 characters without control characters. Returns undefined when the text is not such a rule.
 */
export function parseSubjectRule(text: string): SubjectRule | undefined {
  if (typeof text !== "string" || text.length > 300) return undefined;
  const m = RULE_RE.exec(text);
  if (!m) return undefined;
  const value = m[2]!.trim();
  if (value === "" || value.length > 200 || /[\u0000-\u001f\u007f-\u009f]/.test(value)) return undefined;
  const name = m[1]!;
  if (/^\d/.test(name)) return { attribute: name, value };
  const canonical = CANONICAL[name.toUpperCase()];
  return canonical ? { attribute: canonical, value } : undefined;
}

/** Short names compare without regard to case; the canonical spelling is the one names.ts prints. */
const CANONICAL: Record<string, string> = {
  CN: "CN",
  SN: "SN",
  SERIALNUMBER: "serialNumber",
  C: "C",
  L: "L",
  ST: "ST",
  STREET: "street",
  O: "O",
  OU: "OU",
  TITLE: "title",
  POSTALCODE: "postalCode",
  GN: "GN",
  INITIALS: "initials",
  GENERATIONQUALIFIER: "generationQualifier",
  DNQUALIFIER: "dnQualifier",
  PSEUDONYM: "pseudonym",
  ORGANIZATIONIDENTIFIER: "organizationIdentifier",
  UID: "UID",
  DC: "DC",
  EMAILADDRESS: "emailAddress",
};

function normalizeAttribute(a: string): string {
  return CANONICAL[a.toUpperCase()] ?? a;
}

/** True when a subject attribute is the one a rule names (by short name, or by OID for a dotted rule). */
function ruleNames(rule: SubjectRule, a: SubjectRule & { oid: string }): boolean {
  return /^\d/.test(rule.attribute) ? a.oid === rule.attribute : a.attribute === normalizeAttribute(rule.attribute);
}

/** A rule as text, "O=高雄市稅捐稽徵處". */
export function subjectRuleText(r: SubjectRule): string {
  return `${r.attribute}=${r.value}`;
}

/**
 * Every rule the certificate breaks for this person and these agency subject rules (empty: the certificate is
 * bound to the person). See the module comment for the rules.
 */
export function personBindingProblems(
  id: CertIdentity,
  person: RegisteredPerson,
  agencyRules: readonly SubjectRule[] = [],
): BindingProblem[] {
  const problems: BindingProblem[] = [];
  if (!id.commonName) {
    problems.push({
      check: "name",
      message: `the certificate's subject has no CN; the staff member is ${person.name}`,
    });
  } else if (!sameNameValue(id.commonName, person.name)) {
    problems.push({
      check: "name",
      message: `the certificate names ${id.commonName}, the staff member is ${person.name}`,
    });
  }
  for (const rule of agencyRules) {
    const found = id.attributes.some((a) => ruleNames(rule, a) && sameNameValue(a.value, rule.value));
    if (!found) {
      problems.push({
        check: "agency",
        message: `the certificate's subject lacks the agency's ${subjectRuleText(rule)}`,
      });
    }
  }
  const wrong = id.emails.filter((e) => e.toLowerCase() !== person.email.toLowerCase());
  if (wrong.length > 0) {
    problems.push({
      check: "email",
      message: `the certificate names e-mail ${wrong.join(", ")}, the staff member's is ${person.email}`,
    });
  }
  return problems;
}

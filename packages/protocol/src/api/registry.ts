import Type, { type Static } from "typebox";
import { Code, DateTime, Email, text } from "./schema.js";

/** The registry: agencies, staff, their certificates, transfer categories. */

export const Role = Type.Union([Type.Literal("staff"), Type.Literal("admin"), Type.Literal("ops")]);
export type Role = Static<typeof Role>;

/** IP allow-list: CIDRs or addresses (IPv4 or IPv6); empty = any address. */
const AllowCidrs = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 });

/**
 * Subject rules: "ATTR=VALUE" (e.g. "O=高雄市稅捐稽徵處", "OU=KHH-TAX"), each a subject attribute every certificate
 * of the agency's staff must carry (ATTR a short name or a dotted OID). Empty: no rule beyond the person's name and
 * e-mail address.
 */
const SubjectRules = Type.Array(Type.String({ minLength: 3, maxLength: 300 }), { maxItems: 20 });

export const Agency = Type.Object(
  {
    code: Type.String(),
    name: Type.String(),
    email: Type.String(),
    allowCidrs: Type.Array(Type.String()),
    subjectRules: Type.Array(Type.String(), {
      description: 'subject attributes ("O=...") every certificate of the agency\'s staff must carry',
    }),
    active: Type.Boolean({ description: "false once withdrawn" }),
  },
  { $id: "Agency" },
);
export type AgencyDto = Static<typeof Agency>;

/** What any logged-in user sees of an active agency (GET /v1/agencies). */
export const AgencyName = Type.Object({ code: Type.String(), name: Type.String() }, { $id: "AgencyName" });
export type AgencyNameDto = Static<typeof AgencyName>;

/** POST /v1/admin/agencies */
export const NewAgency = Type.Object(
  {
    code: Code,
    name: text(200),
    email: Email,
    allowCidrs: Type.Optional(AllowCidrs),
    subjectRules: Type.Optional(SubjectRules),
  },
  { $id: "NewAgency" },
);
export type NewAgency = Static<typeof NewAgency>;

/** PATCH /v1/admin/agencies/:code: the fields to change. */
export const AgencyPatch = Type.Object(
  {
    name: Type.Optional(text(200)),
    email: Type.Optional(Email),
    allowCidrs: Type.Optional(AllowCidrs),
    force: Type.Optional(
      Type.Boolean({
        description:
          "apply an allow-list of your own agency that leaves out the address you act from (default false: 409 CONFLICT)",
      }),
    ),
    subjectRules: Type.Optional(SubjectRules),
  },
  { $id: "AgencyPatch" },
);
export type AgencyPatch = Static<typeof AgencyPatch>;

export const Staff = Type.Object(
  {
    id: Type.String(),
    agency: Type.String(),
    name: Type.String(),
    email: Type.String(),
    role: Role,
    active: Type.Boolean(),
  },
  { $id: "Staff" },
);
export type StaffDto = Static<typeof Staff>;

/** POST /v1/admin/staff */
export const NewStaff = Type.Object(
  {
    agency: Code,
    name: text(200),
    email: Email,
    role: Type.Optional(Role),
  },
  { $id: "NewStaff" },
);
export type NewStaff = Static<typeof NewStaff>;

export const CertPurpose = Type.Union([Type.Literal("sign"), Type.Literal("encrypt")]);
export type CertPurpose = Static<typeof CertPurpose>;
export const CertStatus = Type.Union([Type.Literal("active"), Type.Literal("revoked"), Type.Literal("expired")]);
export type CertStatus = Static<typeof CertStatus>;

export const Certificate = Type.Object(
  {
    id: Type.String(),
    staffId: Type.String(),
    purpose: CertPurpose,
    status: CertStatus,
    sha256: Type.String(),
    subject: Type.String(),
    commonName: Type.String(),
    issuer: Type.String(),
    serialHex: Type.String(),
    subjectKeyIdHex: Type.Optional(Type.String()),
    notBefore: DateTime,
    notAfter: DateTime,
    pem: Type.String({ description: "the certificate and the chain it was registered with, PEM" }),
  },
  { $id: "Certificate" },
);
export type CertificateDto = Static<typeof Certificate>;

/** POST /v1/admin/certificates */
export const NewCertificate = Type.Object(
  {
    staff: Type.String({ minLength: 1, maxLength: 320, description: "staff id or e-mail" }),
    pem: Type.String({ maxLength: 1_000_000, description: "the certificate (and optionally its chain), PEM" }),
    purpose: Type.Optional(CertPurpose),
  },
  { $id: "NewCertificate" },
);
export type NewCertificate = Static<typeof NewCertificate>;

/** POST /v1/admin/certificates/:id/revoke */
export const RevokeRequest = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { $id: "RevokeRequest" },
);
export type RevokeRequest = Static<typeof RevokeRequest>;

export const Category = Type.Object(
  {
    code: Type.String(),
    name: Type.String(),
    purpose: Type.String({ description: "the lawful purpose of the transfers" }),
    active: Type.Boolean(),
  },
  { $id: "Category" },
);
export type CategoryDto = Static<typeof Category>;

/** POST /v1/admin/categories */
export const NewCategory = Type.Object({ code: Code, name: text(200), purpose: text(4000) }, { $id: "NewCategory" });
export type NewCategory = Static<typeof NewCategory>;

/** POST /v1/admin/certificates/check: a certificate to look at before it is registered. */
export const CertificateCheckRequest = Type.Object(
  {
    pem: Type.String({ maxLength: 1_000_000, description: "the certificate (and optionally its chain), PEM" }),
    purpose: Type.Optional(CertPurpose),
  },
  { $id: "CertificateCheckRequest" },
);
export type CertificateCheckRequest = Static<typeof CertificateCheckRequest>;

/**
 * What the server sees in a certificate before anything is registered: the fields an admin checks, the purpose its
 * keyUsage allows, and the outcome of the same trust check registration runs (chain to the trust anchors, key
 * usage, validity now, revocation). Nothing is stored or audited.
 */
export const CertificateCheck = Type.Object(
  {
    sha256: Type.String(),
    subject: Type.String(),
    commonName: Type.String(),
    issuer: Type.String(),
    serialHex: Type.String(),
    notBefore: DateTime,
    notAfter: DateTime,
    daysLeft: Type.Integer({ description: "whole days until notAfter (negative once expired)" }),
    keyUsage: Type.Array(Type.String(), { description: "keyUsage bits by name; empty when the extension is absent" }),
    keyType: Type.String(),
    keyBits: Type.Optional(Type.Integer()),
    purpose: Type.Union([CertPurpose, Type.Null()], {
      description: "the purpose checked: the one asked for, else the one the keyUsage allows (null: neither)",
    }),
    trusted: Type.Boolean({ description: "true when registration would accept it for `purpose`" }),
    problem: Type.Optional(
      Type.Object({
        code: Type.String({ description: "CERT_REJECTED's PKI reason (e.g. EXPIRED, REVOKED, UNTRUSTED, KEY_USAGE)" }),
        message: Type.String(),
      }),
    ),
    registered: Type.Boolean({ description: "this certificate is already registered" }),
  },
  { $id: "CertificateCheck" },
);
export type CertificateCheckDto = Static<typeof CertificateCheck>;

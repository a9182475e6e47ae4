import Type, { type Static } from "typebox";
import { Code, DateTime, Email, nullable, ref, Sha256Hex, Sha256Input } from "./schema.js";

/**
 * Agency-signed recipient rosters and their officers. The roster content format (canonical JSON signed as CMS
 * SignedData by an officer) is in ../roster.ts and server/README.md.
 */

/** One recipient certificate on a roster (see RosterEntry in roster.ts). */
export const RosterEntrySchema = Type.Object(
  {
    staffId: Type.String(),
    name: Type.String(),
    email: Type.String(),
    certSha256: Sha256Hex,
    notAfter: DateTime,
  },
  { $id: "RosterEntry" },
);

/**
 * An agency's current roster as the relay stores it: the officer's CMS SignedData (base64 DER) is what clients
 * verify; the other fields are the relay's reading of it, for display only.
 */
export const Roster = Type.Object(
  {
    agency: Type.String(),
    version: Type.Integer({ minimum: 1 }),
    issuedAt: DateTime,
    signerSha256: Type.String({ description: "SHA-256 of the signing officer's certificate" }),
    storedAt: DateTime,
    recipients: Type.Array(ref(RosterEntrySchema)),
    cms: Type.String({ description: "the signed roster: CMS SignedData (DER), base64" }),
  },
  { $id: "Roster" },
);
export type RosterDto = Static<typeof Roster>;

/** PUT /v1/agencies/:code/roster: a roster an officer signed. */
export const RosterUpload = Type.Object(
  { cms: Type.String({ minLength: 1, maxLength: 4_000_000, description: "CMS SignedData (DER), base64" }) },
  { $id: "RosterUpload" },
);
export type RosterUpload = Static<typeof RosterUpload>;

/**
 * GET /v1/agencies/:code/roster/proposal: what the registry holds now (active staff of role staff with an active
 * encryption certificate that validates), for an officer to review and sign as the next version.
 */
export const RosterProposal = Type.Object(
  {
    agency: Type.String(),
    currentVersion: nullable(Type.Integer({ minimum: 1 })),
    nextVersion: Type.Integer({ minimum: 1 }),
    recipients: Type.Array(ref(RosterEntrySchema)),
    pending: Type.Boolean({ description: "true when the registry differs from the current roster" }),
  },
  { $id: "RosterProposal" },
);
export type RosterProposalDto = Static<typeof RosterProposal>;

/** A roster officer of an agency: a staff member's registered signing certificate. */
export const Officer = Type.Object(
  {
    agency: Type.String(),
    staffId: Type.String(),
    name: Type.String(),
    email: Type.String(),
    certSha256: Sha256Hex,
    certStatus: Type.String({ description: "active, revoked or expired (the registered certificate's status)" }),
    addedAt: DateTime,
  },
  { $id: "Officer" },
);
export type OfficerDto = Static<typeof Officer>;

/** POST /v1/admin/agencies/:code/officers */
export const NewOfficer = Type.Object(
  {
    user: Email,
    certSha256: Type.Optional(Sha256Input),
  },
  { $id: "NewOfficer" },
);
export type NewOfficer = Static<typeof NewOfficer>;

export const RosterCodeParams = Type.Object({ code: Code });
export const OfficerParams = Type.Object({ code: Code, sha256: Sha256Input });

import Type, { type Static } from "typebox";
import { CASE_STATES } from "../cases.js";
import { Certificate } from "./registry.js";
import { DateTime, ref, Sha256Hex, text } from "./schema.js";

/** Transfer cases (DESIGN section 2) and their files, notes and receipts. */

export const CaseStateSchema = Type.Union(
  [
    Type.Literal("registered"),
    Type.Literal("sent"),
    Type.Literal("received"),
    Type.Literal("processed"),
    Type.Literal("result_received"),
    Type.Literal("cancelled"),
  ],
  {
    description: Object.entries(CASE_STATES)
      .map(([s, label]) => `${s} (${label})`)
      .join(", "),
  },
);

/** Longest free text (remarks, cancel reason, note) accepted, in UTF-16 code units. */
export const MAX_CASE_TEXT = 4000;

/** POST /v1/cases */
export const CreateCase = Type.Object(
  {
    category: Type.String({ minLength: 1, maxLength: 64, description: "transfer category code" }),
    receivingAgency: Type.String({ minLength: 1, maxLength: 64, description: "receiving agency code" }),
    recordCount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "records in the batch" }),
    uploadNo: text(100, { description: "the upload number (上傳編號)" }),
    remarks: Type.Optional(Type.String({ maxLength: MAX_CASE_TEXT })),
    receivers: Type.Optional(
      Type.Array(Type.String({ maxLength: 320 }), {
        maxItems: 1000,
        description:
          "receiving staff by e-mail; default: every active staff member of the receiving agency with a valid encryption certificate",
      }),
    ),
  },
  { $id: "CreateCase" },
);
export type CreateCaseRequest = Static<typeof CreateCase>;

/**
 * Who uploaded a case file, recorded by the server at upload time from the authenticated caller: the staff member,
 * their agency and the SHA-256 of each signing certificate registered and active for them then. The CLI refuses an
 * opened file whose CMS signer certificate is not one of these ("every file proves its sender").
 */
export const FileUploader = Type.Object(
  {
    staffId: Type.String(),
    agency: Type.String(),
    signingCertSha256: Type.Array(Sha256Hex),
  },
  {
    $id: "FileUploader",
    description:
      "Who uploaded the file, recorded at upload time from the authenticated caller. Receivers check the file's CMS signer against signingCertSha256 (the CLI refuses a mismatch with SIGNER_NOT_SENDER).",
  },
);
export type FileUploaderDto = Static<typeof FileUploader>;

/** A case's payload or result file. `uploadedBy` is absent only for files recorded before the server kept it. */
export const CaseFile = Type.Object(
  {
    sha256: Sha256Hex,
    size: Type.Integer({ minimum: 0 }),
    uploadedAt: DateTime,
    uploadedBy: Type.Optional(ref(FileUploader)),
  },
  { $id: "CaseFile" },
);
export type CaseFileDto = Static<typeof CaseFile>;

export const Note = Type.Object(
  {
    id: Type.Integer(),
    staffId: Type.String(),
    staffName: Type.String(),
    text: Type.String(),
    createdAt: DateTime,
  },
  { $id: "Note" },
);
export type NoteDto = Static<typeof Note>;

export const Case = Type.Object(
  {
    id: Type.String(),
    state: CaseStateSchema,
    category: Type.String(),
    senderAgency: Type.String(),
    senderStaff: Type.String(),
    receivingAgency: Type.String(),
    recordCount: Type.Integer(),
    uploadNo: Type.String(),
    remarks: Type.String(),
    createdAt: DateTime,
    updatedAt: DateTime,
    payload: Type.Optional(ref(CaseFile)),
    result: Type.Optional(ref(CaseFile)),
    notes: Type.Optional(Type.Array(ref(Note), { description: "processing notes (GET /v1/cases/:id and notes)" })),
  },
  { $id: "Case" },
);
export type CaseDto = Static<typeof Case>;

/** A recipient certificate in a profile: who, and the certificate to seal to. */
export const ProfileRecipient = Type.Object(
  {
    staffId: Type.String(),
    name: Type.String(),
    email: Type.String(),
    agency: Type.String(),
    certificate: ref(Certificate),
  },
  { $id: "ProfileRecipient" },
);
export type ProfileRecipient = Static<typeof ProfileRecipient>;

/**
 * The transfer profile of a case (POST /v1/cases, GET /v1/cases/:id/profile): the case and every certificate the
 * payload must be sealed to, exactly (the receivers' and the sender's own). The result profile
 * (GET /v1/cases/:id/result-profile) has the same shape with the sender agency's staff as recipients.
 */
export const TransferProfile = Type.Object(
  { case: ref(Case), recipients: Type.Array(ref(ProfileRecipient)) },
  { $id: "TransferProfile" },
);
export type TransferProfile = Static<typeof TransferProfile>;

/** GET /v1/cases: which page of which cases. */
export const CaseListQuery = Type.Object({
  box: Type.Optional(
    Type.Union([Type.Literal("inbox"), Type.Literal("outbox")], {
      description: "inbox: cases your agency receives; outbox: cases it sends; default both",
    }),
  ),
  state: Type.Optional(CaseStateSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100, description: "cases per page" })),
  before: Type.Optional(
    Type.String({ minLength: 1, maxLength: 512, description: "opaque cursor: the X-Next-Cursor of the previous page" }),
  ),
});
export type CaseListQuery = Static<typeof CaseListQuery>;

/** POST /v1/cases/:id/notes */
export const NoteRequest = Type.Object({ text: text(MAX_CASE_TEXT) }, { $id: "NoteRequest" });
export type NoteRequest = Static<typeof NoteRequest>;

/** POST /v1/cases/:id/cancel */
export const CancelRequest = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: MAX_CASE_TEXT })) },
  { $id: "CancelRequest" },
);
export type CancelRequest = Static<typeof CancelRequest>;

/** What a receipt signs: the file of a case, by hash, at a time. `kind` "payload" (by the receiver) or "result" (by the sender). */
export const ReceiptStatement = Type.Object(
  {
    type: Type.Literal("sealpost-receipt"),
    caseId: Type.String({ maxLength: 200 }),
    kind: Type.Union([Type.Literal("payload"), Type.Literal("result")]),
    sha256: Type.String({ maxLength: 100 }),
    time: Type.String({ maxLength: 100 }),
  },
  { $id: "ReceiptStatement" },
);
export type ReceiptStatement = Static<typeof ReceiptStatement>;

/** POST /v1/cases/:id/receipts */
export const ReceiptRequest = Type.Object(
  {
    certSha256: Type.String({ maxLength: 100, description: "SHA-256 of the signer's signing certificate" }),
    statement: ref(ReceiptStatement),
    signature: Type.String({ maxLength: 20000, description: "base64 signature over canonicalJson(statement)" }),
  },
  { $id: "ReceiptRequest" },
);
export type ReceiptRequest = Static<typeof ReceiptRequest>;

export const Receipt = Type.Object(
  {
    id: Type.Integer(),
    staffId: Type.String(),
    staffName: Type.String(),
    receivedAt: DateTime,
    certSha256: Type.String(),
    statement: ref(ReceiptStatement),
    signature: Type.String(),
    certificatePem: Type.String({ description: "the signer's certificate, PEM, so anyone can check the signature" }),
    auditSeq: Type.Optional(Type.Integer({ description: "sequence number of the receipt's audit entry" })),
    treeHead: Type.Optional(
      Type.Object(
        {
          treeSize: Type.Integer(),
          rootHash: Type.String(),
          timestamp: DateTime,
          signature: Type.String(),
        },
        { description: "the signed tree head of the audit log that first included the receipt's entry" },
      ),
    ),
  },
  { $id: "Receipt" },
);
export type ReceiptDto = Static<typeof Receipt>;

/** Case id path parameter. */
export const CaseIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: "case id" }) });

/** Optional Range header of a file download (one range). */
export const RangeHeaders = Type.Object({
  range: Type.Optional(Type.String({ description: "one byte range, e.g. bytes=1000-" })),
});

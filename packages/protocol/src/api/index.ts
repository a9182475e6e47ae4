import { AuditKeyInfo, CaseAudit, ConsistencyProof, InclusionProof, TreeHead } from "./audit.js";
import { Actor, ChallengeRequest, ChallengeResponse, LoginRequest, LoginResponse, LoginStatement } from "./auth.js";
import { ConsoleApproveRequest, ConsoleCode, ConsoleSession, ConsoleSessionRequest } from "./console.js";
import {
  CancelRequest,
  Case,
  CaseFile,
  CreateCase,
  FileUploader,
  Note,
  NoteRequest,
  ProfileRecipient,
  Receipt,
  ReceiptRequest,
  ReceiptStatement,
  TransferProfile,
} from "./cases.js";
import { Drop, DropInput, DropRun, DropRunError, DropView, RunRequest, RunResponse } from "./drops.js";
import { ErrorBody } from "./error-catalogue.js";
import { NewOfficer, Officer, Roster, RosterEntrySchema, RosterProposal, RosterUpload } from "./rosters.js";
import { AuditEntry, AuditPage, CaseStats, MailMessage, MailPage, ServerStatus } from "./ops.js";
import {
  Agency,
  AgencyName,
  AgencyPatch,
  Category,
  Certificate,
  CertificateCheck,
  CertificateCheckRequest,
  NewAgency,
  NewCategory,
  NewCertificate,
  NewStaff,
  RevokeRequest,
  Staff,
} from "./registry.js";

export * from "./audit.js";
export * from "./auth.js";
export * from "./cases.js";
export * from "./console.js";
export * from "./drops.js";
export * from "./endpoint.js";
export * from "./endpoints.js";
export * from "./error-catalogue.js";
export * from "./ops.js";
export * from "./registry.js";
export * from "./rosters.js";
export * from "./schema.js";

/**
 * Every named schema (with `$id`) that endpoints reference with `ref()`. The server registers each once; the OpenAPI
 * document lists them under components.schemas by that name.
 */
export const NAMED_SCHEMAS = [
  ErrorBody,
  ChallengeRequest,
  ChallengeResponse,
  LoginStatement,
  LoginRequest,
  LoginResponse,
  Actor,
  Agency,
  AgencyName,
  NewAgency,
  AgencyPatch,
  Staff,
  NewStaff,
  Certificate,
  NewCertificate,
  CertificateCheckRequest,
  CertificateCheck,
  RevokeRequest,
  Category,
  NewCategory,
  CreateCase,
  FileUploader,
  CaseFile,
  Note,
  Case,
  ProfileRecipient,
  TransferProfile,
  NoteRequest,
  CancelRequest,
  ReceiptStatement,
  ReceiptRequest,
  Receipt,
  DropInput,
  Drop,
  DropRunError,
  DropRun,
  DropView,
  RunRequest,
  RunResponse,
  AuditEntry,
  AuditPage,
  TreeHead,
  AuditKeyInfo,
  ConsistencyProof,
  InclusionProof,
  CaseAudit,
  MailMessage,
  MailPage,
  ServerStatus,
  CaseStats,
  ConsoleCode,
  ConsoleApproveRequest,
  ConsoleSessionRequest,
  ConsoleSession,
  RosterEntrySchema,
  Roster,
  RosterUpload,
  RosterProposal,
  Officer,
  NewOfficer,
] as const;

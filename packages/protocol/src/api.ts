/**
 * Shapes of the relay server's HTTP API (JSON bodies), shared by the CLI and the server. Large files never travel as
 * JSON: payload and result files are streamed request and response bodies (application/octet-stream).
 *
 * Signatures the CLI makes for the server (login and receipts) are RSA PKCS#1 v1.5 (or ECDSA) with SHA-256 over the
 * UTF-8 bytes of `canonicalJson(statement)`, made with the staff member's registered *signing* key and sent base64.
 */
import type { CaseState } from "./cases.js";

/** Error body of every non-2xx JSON response. `code` is one of the server's catalogue codes (server/src/errors.ts). */
export interface ApiErrorBody {
  error: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order, no whitespace, arrays kept in order, `undefined`
 * members dropped. Used for everything that is hashed or signed (audit entries, login and receipt statements).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** POST /v1/auth/challenge: identify by the signing certificate's SHA-256 fingerprint, or by e-mail. */
export interface ChallengeRequest {
  certSha256?: string;
  email?: string;
}
export interface ChallengeResponse {
  challengeId: string;
  /** 32 random bytes, base64url. Single use, valid for `expiresAt` (2 minutes). */
  challenge: string;
  expiresAt: string;
}

/** What the CLI signs to log in. `origin` is the server's URL origin as the CLI used it; `time` is ISO 8601. */
export interface LoginStatement {
  type: "sealpost-login";
  challenge: string;
  origin: string;
  time: string;
}

/** POST /v1/auth/login */
export interface LoginRequest {
  challengeId: string;
  certSha256: string;
  statement: LoginStatement;
  /** base64 signature over canonicalJson(statement). */
  signature: string;
}
export interface LoginResponse {
  token: string;
  expiresAt: string;
  staff: StaffDto;
}

export type Role = "staff" | "admin" | "ops";

export interface AgencyDto {
  code: string;
  name: string;
  email: string;
  allowCidrs: string[];
  /** False once withdrawn (`sealpost admin agency revoke`). Default true. */
  active?: boolean;
}

export interface StaffDto {
  id: string;
  agency: string;
  name: string;
  email: string;
  role: Role;
  active: boolean;
}

export type CertPurpose = "sign" | "encrypt";
export type CertStatus = "active" | "revoked" | "expired";

export interface CertificateDto {
  id: string;
  staffId: string;
  purpose: CertPurpose;
  status: CertStatus;
  sha256: string;
  subject: string;
  commonName: string;
  issuer: string;
  serialHex: string;
  subjectKeyIdHex?: string;
  notBefore: string;
  notAfter: string;
  /** The certificate (and the chain it was registered with) as PEM. */
  pem: string;
}

export interface CategoryDto {
  code: string;
  name: string;
  purpose: string;
  active: boolean;
}

/** POST /v1/cases */
export interface CreateCaseRequest {
  category: string;
  receivingAgency: string;
  recordCount: number;
  uploadNo: string;
  remarks?: string;
  /** Receiving staff by e-mail; default: every active staff member of the receiving agency with a valid encryption certificate. */
  receivers?: string[];
}

export interface CaseDto {
  id: string;
  state: CaseState;
  category: string;
  senderAgency: string;
  senderStaff: string;
  receivingAgency: string;
  recordCount: number;
  uploadNo: string;
  remarks: string;
  createdAt: string;
  updatedAt: string;
  payload?: CaseFileDto;
  result?: CaseFileDto;
  notes?: NoteDto[];
}

/**
 * Who uploaded a case file, recorded by the server at upload time from the authenticated caller: the staff member,
 * their agency and the SHA-256 of each signing certificate registered and active for them then. The CLI refuses an
 * opened file whose CMS signer certificate is not one of these ("every file proves its sender").
 */
export interface FileUploaderDto {
  staffId: string;
  agency: string;
  /** Lower-case hex SHA-256 of the uploader's registered active signing certificates at upload time. */
  signingCertSha256: string[];
}

/** A case's payload or result file. `uploadedBy` is absent only for files recorded before the server kept it. */
export interface CaseFileDto {
  sha256: string;
  size: number;
  uploadedAt: string;
  uploadedBy?: FileUploaderDto;
}

export interface NoteDto {
  id: number;
  staffId: string;
  staffName: string;
  text: string;
  createdAt: string;
}

/** A recipient certificate in a profile: who, and the certificate to seal to. */
export interface ProfileRecipient {
  staffId: string;
  name: string;
  email: string;
  agency: string;
  certificate: CertificateDto;
}

/**
 * The transfer profile of a case (returned by POST /v1/cases and GET /v1/cases/:id/profile): the case and every
 * certificate the payload must be sealed to, exactly (the receivers' and the sender's own). The result profile
 * (GET /v1/cases/:id/result-profile) has the same shape with the sender agency's staff as recipients.
 */
export interface TransferProfile {
  case: CaseDto;
  recipients: ProfileRecipient[];
}

/** What a receipt signs: the file of a case, by hash, at a time. `kind` "payload" (by the receiver) or "result" (by the sender). */
export interface ReceiptStatement {
  type: "sealpost-receipt";
  caseId: string;
  kind: "payload" | "result";
  sha256: string;
  time: string;
}

/** POST /v1/cases/:id/receipts */
export interface ReceiptRequest {
  certSha256: string;
  statement: ReceiptStatement;
  signature: string;
}

export interface ReceiptDto extends ReceiptRequest {
  id: number;
  staffId: string;
  staffName: string;
  receivedAt: string;
  /** The signer's certificate as PEM, so anyone can re-check the signature. */
  certificatePem: string;
}

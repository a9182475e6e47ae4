import type { ColumnType, Generated } from "kysely";

/**
 * Every table of the relay's database, with its row type as both dialects return it: the one declaration the
 * repositories' queries are typed by (no row is cast). Conventions, the same on SQLite and PostgreSQL:
 * - times are ISO-8601 UTC text (`Date#toISOString`), which sorts as text;
 * - flags are integers 0/1 (`active`, `enabled`, `moved`);
 * - JSON values are text (`allow_cidrs`, `file_sha256`, `detail`, `recipients`, `notify_emails`, `errors`, ...);
 * - whole numbers are JavaScript numbers (PostgreSQL's bigint is parsed to a number: sizes stay far below 2^53);
 * - `Generated` columns are assigned by the database (identity / autoincrement).
 */
export interface Database {
  schema_migrations: SchemaMigrationsTable;
  agencies: AgenciesTable;
  staff: StaffTable;
  certificates: CertificatesTable;
  categories: CategoriesTable;
  challenges: ChallengesTable;
  tokens: TokensTable;
  rate_limits: RateLimitsTable;
  console_codes: ConsoleCodesTable;
  console_sessions: ConsoleSessionsTable;
  files: FilesTable;
  cases: CasesTable;
  case_recipients: CaseRecipientsTable;
  case_notes: CaseNotesTable;
  receipts: ReceiptsTable;
  audit_log: AuditLogTable;
  audit_nodes: AuditNodesTable;
  audit_heads: AuditHeadsTable;
  mail_outbox: MailOutboxTable;
  purged_files: PurgedFilesTable;
  drops: DropsTable;
  drop_runs: DropRunsTable;
  drop_files: DropFilesTable;
  job_leases: JobLeasesTable;
  crls: CrlsTable;
  roster_officers: RosterOfficersTable;
  rosters: RostersTable;
  roster_entries: RosterEntriesTable;
}

/** A column the database fills in on insert (identity / autoincrement); never updated. */
type Id = Generated<number>;
/** A 0/1 flag with a database default. */
type Flag = ColumnType<number, number | undefined, number>;

export interface SchemaMigrationsTable {
  id: string;
  applied_at: string;
}

export interface AgenciesTable {
  code: string;
  name: string;
  email: string;
  /** JSON array of CIDR strings; '[]' allows every address. */
  allow_cidrs: ColumnType<string, string | undefined, string>;
  /** JSON array of {attribute, value}: subject attributes every staff certificate must carry; '[]' none. */
  subject_rules: ColumnType<string, string | undefined, string>;
  created_at: string;
  active: Flag;
}

export interface StaffTable {
  id: string;
  agency: string;
  name: string;
  /** Unique without regard to case. */
  email: string;
  role: "staff" | "admin" | "ops";
  active: Flag;
  created_at: string;
}

export interface CertificatesTable {
  id: string;
  staff_id: string;
  purpose: "sign" | "encrypt";
  status: "active" | "revoked" | "expired";
  sha256: string;
  der: Buffer;
  /** PEM of the chain the certificate was registered with ('' when none). */
  chain_pem: ColumnType<string, string | undefined, string>;
  subject: string;
  common_name: string;
  issuer: string;
  serial_hex: string;
  ski_hex: string | null;
  not_before: string;
  not_after: string;
  revoked_at: ColumnType<string | null, string | null | undefined, string | null>;
  revoke_reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
}

export interface CategoriesTable {
  code: string;
  name: string;
  purpose: string;
  active: Flag;
  created_at: string;
}

export interface ChallengesTable {
  id: string;
  challenge: string;
  /** Null for a challenge issued to an unknown identity (the login on it fails). */
  staff_id: string | null;
  expires_at: string;
}

export interface TokensTable {
  /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
  hash: string;
  staff_id: string;
  cert_id: string;
  created_at: string;
  expires_at: string;
}

/** A web console login code (console domain). Only hashes of the code and the poll token are stored. */
export interface ConsoleCodesTable {
  /** SHA-256 (hex) of the normalised code (upper case, no dash). */
  code_hash: string;
  /** SHA-256 (hex) of the page's poll token. */
  poll_hash: string;
  /** Set when a staff member approved the code: who, and with which signing certificate they logged in. */
  staff_id: string | null;
  cert_id: string | null;
  expires_at: string;
}

/** A web console session (console domain): the idle clock of one bearer token row of `tokens`. */
export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session token (the cookie's value); the same hash as its `tokens` row. */
  token_hash: string;
  last_seen_ms: number;
}

export interface RateLimitsTable {
  /** What is limited and for whom, e.g. "auth:203.0.113.9". */
  key: string;
  /** Tokens left in the bucket at `at_ms` (fractional). */
  tokens: number;
  /** Milliseconds since the epoch. */
  at_ms: number;
}

export interface FilesTable {
  sha256: string;
  size: number;
  created_at: string;
  purged_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface CasesTable {
  id: string;
  state: "registered" | "sent" | "received" | "processed" | "result_received" | "cancelled";
  category: string;
  sender_agency: string;
  sender_staff: string;
  receiving_agency: string;
  record_count: number;
  upload_no: string;
  remarks: ColumnType<string, string | undefined, string>;
  payload_sha256: ColumnType<string | null, string | null | undefined, string | null>;
  payload_size: ColumnType<number | null, number | null | undefined, number | null>;
  payload_at: ColumnType<string | null, string | null | undefined, string | null>;
  result_sha256: ColumnType<string | null, string | null | undefined, string | null>;
  result_size: ColumnType<number | null, number | null | undefined, number | null>;
  result_at: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
  ended_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON FileUploaderDto recorded at upload (null for files recorded before core-003). */
  payload_uploaded_by: ColumnType<string | null, string | null | undefined, string | null>;
  result_uploaded_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface CaseRecipientsTable {
  case_id: string;
  side: "payload" | "result";
  cert_id: string;
  staff_id: string;
  role: "receiver" | "sender-copy" | "result";
}

export interface CaseNotesTable {
  id: Id;
  case_id: string;
  staff_id: string;
  text: string;
  created_at: string;
}

export interface ReceiptsTable {
  id: Id;
  case_id: string;
  kind: "payload" | "result";
  staff_id: string;
  cert_id: string;
  sha256: string;
  /** canonicalJson of the signed statement. */
  statement: string;
  signature: string;
  created_at: string;
}

export interface AuditLogTable {
  seq: number;
  time: string;
  actor: string | null;
  role: string | null;
  agency: string | null;
  action: string;
  case_id: string | null;
  /** JSON array of SHA-256 hex strings. */
  file_sha256: string;
  source: string | null;
  /** JSON object. */
  detail: string;
  prev_hash: string;
  hash: string;
}

/** A complete subtree of the audit log's Merkle tree (audit-001): its level, index and hash (hex). */
export interface AuditNodesTable {
  level: number;
  idx: number;
  hash: string;
}

/** A signed tree head of the audit log (audit-001). */
export interface AuditHeadsTable {
  tree_size: number;
  /** Hex. */
  root_hash: string;
  time: string;
  key_fingerprint: string;
  /** Base64 Ed25519 signature. */
  signature: string;
}

export interface MailOutboxTable {
  id: Id;
  created_at: string;
  kind: string;
  case_id: string | null;
  /** JSON array of addresses. */
  recipients: string;
  subject: string;
  body: string;
  state: "queued" | "sending" | "sent" | "failed";
  attempts: number;
  next_attempt_at: string;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  last_attempt_at: ColumnType<string | null, string | null | undefined, string | null>;
  sent_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PurgedFilesTable {
  sha256: string;
  case_id: string;
  role: "payload" | "result";
  purged_at: string;
}

export interface DropsTable {
  name: string;
  agency: string;
  direction: "pull" | "push";
  host: string;
  port: number;
  username: string;
  remote_dir: string;
  host_key_sha256: string;
  schedule: string;
  completion: "sidecar" | "marker";
  enabled: number;
  max_attempts: number;
  retry_base_ms: number;
  /** JSON array of addresses. */
  notify_emails: string;
  health: ColumnType<"ok" | "failing", "ok" | "failing" | undefined, "ok" | "failing">;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  created_at: string;
  created_by: string | null;
  updated_at: string;
}

export interface DropRunsTable {
  id: Id;
  drop_name: string;
  trigger: "schedule" | "manual";
  started_at: string;
  ended_at: ColumnType<string | null, string | null | undefined, string | null>;
  status: "running" | "ok" | "partial" | "failed" | "aborted";
  attempts: ColumnType<number, number | undefined, number>;
  files: ColumnType<number, number | undefined, number>;
  bytes: ColumnType<number, number | undefined, number>;
  /** JSON array of RunError. */
  errors: ColumnType<string, string | undefined, string>;
  owner_pid: number;
  owner_instance: string;
}

export interface DropFilesTable {
  id: Id;
  drop_name: string;
  direction: "pull" | "push";
  remote_name: string;
  sha256: string;
  size: number;
  case_id: string | null;
  kind: "payload" | "result" | null;
  outcome: "registering" | "registered" | "processed" | "failed" | "delivered";
  error: string | null;
  moved: Flag;
  moved_to: ColumnType<string | null, string | null | undefined, string | null>;
  run_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface JobLeasesTable {
  /** The job, e.g. "mail", "retention", "drops", "drop:khh-soc-out". */
  name: string;
  /** The instance holding it. */
  owner: string;
  /** When the lease ends unless renewed (ISO-8601 UTC, the holder's clock). */
  expires_at: string;
  /** Incremented each time the lease changes hands. */
  generation: number;
}

/** crls-001: the relay's current CRLs by source (server/src/crls). CRL columns are null for a source never read. */
export interface CrlsTable {
  source: string;
  issuer: string | null;
  sha256: string | null;
  der: Buffer | null;
  this_update: string | null;
  next_update: string | null;
  crl_number: string | null;
  updated_at: string;
  checked_at: string;
  last_error: string | null;
  warned_for: string | null;
}

/** A roster officer key of an agency: a staff member's registered signing certificate (rosters domain). */
export interface RosterOfficersTable {
  agency: string;
  cert_sha256: string;
  staff_id: string;
  added_at: string;
  added_by: string | null;
  /** Set when an admin removed the key; the row stays for the record. */
  removed_at: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One signed roster version of an agency, as the officer signed it (never updated). */
export interface RostersTable {
  agency: string;
  version: number;
  issued_at: string;
  signer_sha256: string;
  /** SHA-256 of the signed content (the canonical JSON). */
  content_sha256: string;
  /** The signed content as text (canonical JSON), as the relay read it from `cms` when storing. */
  content: string;
  /** The CMS SignedData (DER) the officer made. */
  cms: Buffer;
  stored_at: string;
}

/** The certificates one roster version lists (the relay's index of `rosters.cms`). */
export interface RosterEntriesTable {
  agency: string;
  version: number;
  staff_id: string;
  cert_sha256: string;
}

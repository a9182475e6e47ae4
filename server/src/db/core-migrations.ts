import type { Migration } from "./migration.js";

/**
 * The schema of the registry, authentication, cases and their files, receipts and the audit chain, as it was written
 * before the domains were split: one history shared by those domains. Never edit an applied step; add new steps to
 * the owning domain's migrations.ts. Each step has its SQLite and its PostgreSQL form (same tables, columns and
 * constraints; on PostgreSQL, e-mail uniqueness without regard to case is an index on lower(email), the
 * append-only audit log a trigger function, identities replace AUTOINCREMENT).
 */
export const migrations: Migration[] = [
  {
    id: "core-001",
    sqlite: `
CREATE TABLE agencies (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  allow_cidrs TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL
);
CREATE TABLE staff (
  id TEXT PRIMARY KEY,
  agency TEXT NOT NULL REFERENCES agencies(code),
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('staff','admin','ops')),
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL
);
CREATE TABLE certificates (
  id TEXT PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  purpose TEXT NOT NULL CHECK (purpose IN ('sign','encrypt')),
  status TEXT NOT NULL CHECK (status IN ('active','revoked','expired')),
  sha256 TEXT NOT NULL UNIQUE,
  der BLOB NOT NULL,
  chain_pem TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL,
  common_name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  serial_hex TEXT NOT NULL,
  ski_hex TEXT,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  revoked_at TEXT,
  revoke_reason TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX certificates_staff ON certificates(staff_id, purpose, status);
CREATE TABLE categories (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  purpose TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL
);
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  challenge TEXT NOT NULL,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  expires_at TEXT NOT NULL
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE TABLE files (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  purged_at TEXT
);
CREATE TABLE cases (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('registered','sent','received','processed','result_received','cancelled')),
  category TEXT NOT NULL REFERENCES categories(code),
  sender_agency TEXT NOT NULL REFERENCES agencies(code),
  sender_staff TEXT NOT NULL REFERENCES staff(id),
  receiving_agency TEXT NOT NULL REFERENCES agencies(code),
  record_count INTEGER NOT NULL,
  upload_no TEXT NOT NULL,
  remarks TEXT NOT NULL DEFAULT '',
  payload_sha256 TEXT REFERENCES files(sha256),
  payload_size INTEGER,
  payload_at TEXT,
  result_sha256 TEXT REFERENCES files(sha256),
  result_size INTEGER,
  result_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE INDEX cases_sender ON cases(sender_agency, state);
CREATE INDEX cases_receiver ON cases(receiving_agency, state);
CREATE TABLE case_recipients (
  case_id TEXT NOT NULL REFERENCES cases(id),
  side TEXT NOT NULL CHECK (side IN ('payload','result')),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  role TEXT NOT NULL CHECK (role IN ('receiver','sender-copy','result')),
  PRIMARY KEY (case_id, side, cert_id)
);
CREATE TABLE case_notes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  case_id TEXT NOT NULL REFERENCES cases(id),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  text TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  case_id TEXT NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL CHECK (kind IN ('payload','result')),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  sha256 TEXT NOT NULL,
  statement TEXT NOT NULL,
  signature TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT,
  role TEXT,
  agency TEXT,
  action TEXT NOT NULL,
  case_id TEXT,
  file_sha256 TEXT NOT NULL DEFAULT '[]',
  source TEXT,
  detail TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`,
    postgres: `
CREATE TABLE agencies (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  allow_cidrs TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL
);
CREATE TABLE staff (
  id TEXT PRIMARY KEY,
  agency TEXT NOT NULL REFERENCES agencies(code),
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('staff','admin','ops')),
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX staff_email_nocase ON staff (lower(email));
CREATE TABLE certificates (
  id TEXT PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  purpose TEXT NOT NULL CHECK (purpose IN ('sign','encrypt')),
  status TEXT NOT NULL CHECK (status IN ('active','revoked','expired')),
  sha256 TEXT NOT NULL UNIQUE,
  der BYTEA NOT NULL,
  chain_pem TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL,
  common_name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  serial_hex TEXT NOT NULL,
  ski_hex TEXT,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  revoked_at TEXT,
  revoke_reason TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX certificates_staff ON certificates(staff_id, purpose, status);
CREATE TABLE categories (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  purpose TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL
);
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  challenge TEXT NOT NULL,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  expires_at TEXT NOT NULL
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff(id),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE TABLE files (
  sha256 TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  created_at TEXT NOT NULL,
  purged_at TEXT
);
CREATE TABLE cases (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('registered','sent','received','processed','result_received','cancelled')),
  category TEXT NOT NULL REFERENCES categories(code),
  sender_agency TEXT NOT NULL REFERENCES agencies(code),
  sender_staff TEXT NOT NULL REFERENCES staff(id),
  receiving_agency TEXT NOT NULL REFERENCES agencies(code),
  record_count BIGINT NOT NULL,
  upload_no TEXT NOT NULL,
  remarks TEXT NOT NULL DEFAULT '',
  payload_sha256 TEXT REFERENCES files(sha256),
  payload_size BIGINT,
  payload_at TEXT,
  result_sha256 TEXT REFERENCES files(sha256),
  result_size BIGINT,
  result_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE INDEX cases_sender ON cases(sender_agency, state);
CREATE INDEX cases_receiver ON cases(receiving_agency, state);
CREATE TABLE case_recipients (
  case_id TEXT NOT NULL REFERENCES cases(id),
  side TEXT NOT NULL CHECK (side IN ('payload','result')),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  role TEXT NOT NULL CHECK (role IN ('receiver','sender-copy','result')),
  PRIMARY KEY (case_id, side, cert_id)
);
CREATE TABLE case_notes (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases(id),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  text TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE receipts (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL CHECK (kind IN ('payload','result')),
  staff_id TEXT NOT NULL REFERENCES staff(id),
  cert_id TEXT NOT NULL REFERENCES certificates(id),
  sha256 TEXT NOT NULL,
  statement TEXT NOT NULL,
  signature TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT,
  role TEXT,
  agency TEXT,
  action TEXT NOT NULL,
  case_id TEXT,
  file_sha256 TEXT NOT NULL DEFAULT '[]',
  source TEXT,
  detail TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$fn$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`,
  },
  {
    // An agency can be withdrawn from the relay: its staff can no longer log in or act, and it can no longer be
    // chosen as a receiving agency. Its cases, files and audit trail stay.
    id: "core-002",
    sqlite: "ALTER TABLE agencies ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
    postgres: "ALTER TABLE agencies ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
  },
  {
    // Who uploaded each case file (JSON {staffId, agency, signingCertSha256[]}, taken from the authenticated
    // caller and the registry at upload time), so a receiver can check that the file's signer is its sender.
    id: "core-003",
    sqlite: `ALTER TABLE cases ADD COLUMN payload_uploaded_by TEXT;
ALTER TABLE cases ADD COLUMN result_uploaded_by TEXT;`,
    postgres: `ALTER TABLE cases ADD COLUMN payload_uploaded_by TEXT;
ALTER TABLE cases ADD COLUMN result_uploaded_by TEXT;`,
  },
  {
    // A challenge is issued for unknown identities too (staff_id NULL), so the answer does not reveal which
    // e-mail addresses and certificates are registered; a login on such a challenge fails like any other.
    // Challenges live two minutes: the table is recreated, not copied.
    id: "core-004",
    sqlite: `DROP TABLE challenges;
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  challenge TEXT NOT NULL,
  staff_id TEXT REFERENCES staff(id),
  expires_at TEXT NOT NULL
);`,
    postgres: "ALTER TABLE challenges ALTER COLUMN staff_id DROP NOT NULL",
  },
  {
    // GET /v1/cases pages each box newest change first (updated_at DESC, id DESC): these indexes serve a page
    // without sorting every case of the agency.
    id: "core-005",
    sqlite: `CREATE INDEX cases_sender_updated ON cases(sender_agency, updated_at, id);
CREATE INDEX cases_receiver_updated ON cases(receiving_agency, updated_at, id);`,
    postgres: `CREATE INDEX cases_sender_updated ON cases(sender_agency, updated_at, id);
CREATE INDEX cases_receiver_updated ON cases(receiving_agency, updated_at, id);`,
  },
];

import type { Migration } from "../db/migration.js";

/**
 * Schema owned by the audit log's transparency tree.
 *
 * - audit-001: `audit_nodes`, the hash of every complete subtree of the RFC 9162 Merkle tree over `audit_log`
 *   (level 0: the leaf of entry seq = index + 1; level L, index i: the 2^L leaves from i * 2^L), written with the
 *   entry whose append completes it; `audit_heads`, the signed tree heads (one per tree size the relay signed: size,
 *   root hash hex, time, the audit key's fingerprint, Ed25519 signature base64). Both refuse UPDATE and DELETE like
 *   `audit_log`. A log that existed before gets its leaves and nodes on the next append (AuditRepository.append).
 */
export const migrations: Migration[] = [
  {
    id: "audit-001",
    sqlite: `
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE audit_heads (
  tree_size INTEGER PRIMARY KEY,
  root_hash TEXT NOT NULL,
  time TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads BEGIN SELECT RAISE(ABORT, 'audit_heads is append-only'); END;
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN SELECT RAISE(ABORT, 'audit_heads is append-only'); END;
`,
    postgres: `
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx BIGINT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE audit_heads (
  tree_size BIGINT PRIMARY KEY,
  root_hash TEXT NOT NULL,
  time TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$fn$;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
`,
  },
];

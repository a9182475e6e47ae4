import type { Migration } from "../db/migration.js";

/**
 * Schema of the SFTP drops module (issue 7). Applied by server-core's runner after the core and mail migrations.
 * Ids are "drops-NNN"; never edit an applied migration, add a new one.
 */
export const migrations: Migration[] = [
  {
    id: "drops-001",
    up(db) {
      db.exec(`
        CREATE TABLE drops (
          name TEXT PRIMARY KEY CHECK (name GLOB '[a-z0-9]*' AND name NOT GLOB '*[^a-z0-9._-]*' AND length(name) <= 64),
          agency TEXT NOT NULL REFERENCES agencies(code),
          direction TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
          host TEXT NOT NULL,
          port INTEGER NOT NULL DEFAULT 22 CHECK (port BETWEEN 1 AND 65535),
          username TEXT NOT NULL,
          remote_dir TEXT NOT NULL,
          host_key_sha256 TEXT NOT NULL,
          schedule TEXT NOT NULL,
          completion TEXT NOT NULL DEFAULT 'sidecar' CHECK (completion IN ('sidecar', 'marker')),
          enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
          max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
          retry_base_ms INTEGER NOT NULL DEFAULT 5000 CHECK (retry_base_ms >= 0),
          notify_emails TEXT NOT NULL DEFAULT '[]',
          health TEXT NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'failing')),
          consecutive_failures INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL,
          created_by TEXT,
          updated_at TEXT NOT NULL
        );

        CREATE TABLE drop_runs (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          drop_name TEXT NOT NULL REFERENCES drops(name) ON DELETE CASCADE,
          trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
          started_at TEXT NOT NULL,
          ended_at TEXT,
          status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
          attempts INTEGER NOT NULL DEFAULT 0,
          files INTEGER NOT NULL DEFAULT 0,
          bytes INTEGER NOT NULL DEFAULT 0,
          errors TEXT NOT NULL DEFAULT '[]',
          owner_pid INTEGER NOT NULL,
          owner_instance TEXT NOT NULL
        );
        CREATE INDEX drop_runs_by_drop ON drop_runs(drop_name, id);
        CREATE UNIQUE INDEX drop_runs_one_running ON drop_runs(drop_name) WHERE status = 'running';

        CREATE TABLE drop_files (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          drop_name TEXT NOT NULL REFERENCES drops(name) ON DELETE CASCADE,
          direction TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
          remote_name TEXT NOT NULL,
          sha256 TEXT NOT NULL,
          size INTEGER NOT NULL,
          case_id TEXT,
          kind TEXT CHECK (kind IN ('payload', 'result')),
          outcome TEXT NOT NULL CHECK (outcome IN ('registering', 'registered', 'processed', 'failed', 'delivered')),
          error TEXT,
          moved INTEGER NOT NULL DEFAULT 0 CHECK (moved IN (0, 1)),
          moved_to TEXT,
          run_id INTEGER REFERENCES drop_runs(id) ON DELETE SET NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX drop_files_pull_once ON drop_files(drop_name, sha256) WHERE direction = 'pull';
        CREATE UNIQUE INDEX drop_files_push_once ON drop_files(drop_name, case_id, kind) WHERE direction = 'push';
        CREATE INDEX drop_files_by_sha ON drop_files(sha256);
      `);
    },
  },
];

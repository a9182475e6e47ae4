import type Database from "better-sqlite3";
import type { Drop, DropRun, RunError, RunStatus } from "./types.js";

/** Row access for the drops tables (see migrations.ts). Synchronous: callers compose these inside transactions. */

interface DropRow {
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
  notify_emails: string;
  health: "ok" | "failing";
  consecutive_failures: number;
  created_at: string;
  created_by: string | null;
  updated_at: string;
}

interface RunRow {
  id: number;
  drop_name: string;
  trigger: "schedule" | "manual";
  started_at: string;
  ended_at: string | null;
  status: RunStatus;
  attempts: number;
  files: number;
  bytes: number;
  errors: string;
  owner_pid: number;
  owner_instance: string;
}

/** A drop_files row. */
export interface DropFileRecord {
  id: number;
  drop: string;
  direction: "pull" | "push";
  remoteName: string;
  sha256: string;
  size: number;
  caseId: string | null;
  kind: "payload" | "result" | null;
  outcome: "registering" | "registered" | "processed" | "failed" | "delivered";
  error: string | null;
  /** True once NAME.p7m and its companions were renamed to `movedTo` (pull only). */
  moved: boolean;
  /** Remote target base ("processed/NAME" or "failed/NAME-<time>"), recorded before the renames. */
  movedTo: string | null;
  runId: number | null;
}

function toDrop(r: DropRow): Drop {
  return {
    name: r.name,
    agency: r.agency,
    direction: r.direction,
    host: r.host,
    port: r.port,
    username: r.username,
    remoteDir: r.remote_dir,
    hostKeySha256: r.host_key_sha256,
    schedule: r.schedule,
    completion: r.completion,
    enabled: r.enabled === 1,
    maxAttempts: r.max_attempts,
    retryBaseMs: r.retry_base_ms,
    notifyEmails: JSON.parse(r.notify_emails) as string[],
    health: r.health,
    consecutiveFailures: r.consecutive_failures,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
  };
}

function toRun(r: RunRow): DropRun {
  return {
    id: r.id,
    drop: r.drop_name,
    trigger: r.trigger,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: r.status,
    attempts: r.attempts,
    files: r.files,
    bytes: r.bytes,
    errors: JSON.parse(r.errors) as RunError[],
  };
}

function toFile(r: Record<string, unknown>): DropFileRecord {
  return {
    id: r.id as number,
    drop: r.drop_name as string,
    direction: r.direction as "pull" | "push",
    remoteName: r.remote_name as string,
    sha256: r.sha256 as string,
    size: r.size as number,
    caseId: (r.case_id as string | null) ?? null,
    kind: (r.kind as "payload" | "result" | null) ?? null,
    outcome: r.outcome as DropFileRecord["outcome"],
    error: (r.error as string | null) ?? null,
    moved: r.moved === 1,
    movedTo: (r.moved_to as string | null) ?? null,
    runId: (r.run_id as number | null) ?? null,
  };
}

/** A running run row with its owner, for stale-run detection. */
export interface RunOwner {
  id: number;
  drop: string;
  ownerPid: number;
  ownerInstance: string;
}

export class DropStore {
  constructor(
    readonly db: Database.Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private iso(): string {
    return this.now().toISOString();
  }

  insertDrop(d: Omit<Drop, "health" | "consecutiveFailures" | "createdAt" | "updatedAt">): Drop {
    const at = this.iso();
    this.db
      .prepare(
        `INSERT INTO drops (name, agency, direction, host, port, username, remote_dir, host_key_sha256, schedule,
           completion, enabled, max_attempts, retry_base_ms, notify_emails, created_at, created_by, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        d.name,
        d.agency,
        d.direction,
        d.host,
        d.port,
        d.username,
        d.remoteDir,
        d.hostKeySha256,
        d.schedule,
        d.completion,
        d.enabled ? 1 : 0,
        d.maxAttempts,
        d.retryBaseMs,
        JSON.stringify(d.notifyEmails),
        at,
        d.createdBy,
        at,
      );
    return this.getDrop(d.name)!;
  }

  getDrop(name: string): Drop | undefined {
    const r = this.db.prepare("SELECT * FROM drops WHERE name = ?").get(name) as DropRow | undefined;
    return r ? toDrop(r) : undefined;
  }

  listDrops(): Drop[] {
    return (this.db.prepare("SELECT * FROM drops ORDER BY name").all() as DropRow[]).map(toDrop);
  }

  setEnabled(name: string, enabled: boolean): void {
    this.db
      .prepare("UPDATE drops SET enabled = ?, updated_at = ? WHERE name = ?")
      .run(enabled ? 1 : 0, this.iso(), name);
  }

  /** Records the outcome of a finished run on the drop; returns the health before and after. */
  recordHealth(name: string, ok: boolean): { before: "ok" | "failing"; after: "ok" | "failing"; failures: number } {
    const before = this.getDrop(name)!;
    const failures = ok ? 0 : before.consecutiveFailures + 1;
    const after = ok ? "ok" : "failing";
    this.db
      .prepare("UPDATE drops SET health = ?, consecutive_failures = ?, updated_at = ? WHERE name = ?")
      .run(after, failures, this.iso(), name);
    return { before: before.health, after, failures };
  }

  runningRuns(drop?: string): RunOwner[] {
    const rows = (
      drop === undefined
        ? this.db
            .prepare("SELECT id, drop_name, owner_pid, owner_instance FROM drop_runs WHERE status = 'running'")
            .all()
        : this.db
            .prepare(
              "SELECT id, drop_name, owner_pid, owner_instance FROM drop_runs WHERE status = 'running' AND drop_name = ?",
            )
            .all(drop)
    ) as { id: number; drop_name: string; owner_pid: number; owner_instance: string }[];
    return rows.map((r) => ({ id: r.id, drop: r.drop_name, ownerPid: r.owner_pid, ownerInstance: r.owner_instance }));
  }

  /** Marks a run left "running" by a dead process as aborted, with the reason in its errors. */
  abortRun(id: number, reason: string): void {
    const at = this.iso();
    const run = this.getRun(id);
    if (run?.status !== "running") return;
    const errors: RunError[] = [...run.errors, { at, code: "ABORTED", message: reason }];
    this.db
      .prepare("UPDATE drop_runs SET status = 'aborted', ended_at = ?, errors = ? WHERE id = ? AND status = 'running'")
      .run(at, JSON.stringify(errors), id);
  }

  /** Inserts a running run row; the unique partial index makes a second running row of one drop impossible. */
  startRun(drop: string, trigger: "schedule" | "manual", ownerInstance: string): DropRun {
    const info = this.db
      .prepare(
        `INSERT INTO drop_runs (drop_name, trigger, started_at, status, owner_pid, owner_instance)
         VALUES (?, ?, ?, 'running', ?, ?)`,
      )
      .run(drop, trigger, this.iso(), process.pid, ownerInstance);
    return this.getRun(Number(info.lastInsertRowid))!;
  }

  /** Saves a run's counters; `attempts` is kept when undefined. */
  updateRun(id: number, fields: { attempts?: number; files: number; bytes: number; errors: RunError[] }): void {
    this.db
      .prepare("UPDATE drop_runs SET attempts = COALESCE(?, attempts), files = ?, bytes = ?, errors = ? WHERE id = ?")
      .run(fields.attempts ?? null, fields.files, fields.bytes, JSON.stringify(fields.errors), id);
  }

  finishRun(id: number, status: "ok" | "failed"): DropRun {
    this.db.prepare("UPDATE drop_runs SET status = ?, ended_at = ? WHERE id = ?").run(status, this.iso(), id);
    return this.getRun(id)!;
  }

  getRun(id: number): DropRun | undefined {
    const r = this.db.prepare("SELECT * FROM drop_runs WHERE id = ?").get(id) as RunRow | undefined;
    return r ? toRun(r) : undefined;
  }

  /** Newest first. */
  listRuns(drop: string, limit = 50): DropRun[] {
    return (
      this.db
        .prepare("SELECT * FROM drop_runs WHERE drop_name = ? ORDER BY id DESC LIMIT ?")
        .all(drop, limit) as RunRow[]
    ).map(toRun);
  }

  pulledFile(drop: string, sha256: string): DropFileRecord | undefined {
    const r = this.db
      .prepare("SELECT * FROM drop_files WHERE direction = 'pull' AND drop_name = ? AND sha256 = ?")
      .get(drop, sha256) as Record<string, unknown> | undefined;
    return r ? toFile(r) : undefined;
  }

  /** Creates or resets the pull record of a file about to be registered. */
  markRegistering(drop: string, remoteName: string, sha256: string, size: number, runId: number): void {
    const at = this.iso();
    this.db
      .prepare(
        `INSERT INTO drop_files (drop_name, direction, remote_name, sha256, size, outcome, run_id, created_at, updated_at)
         VALUES (?, 'pull', ?, ?, ?, 'registering', ?, ?, ?)
         ON CONFLICT (drop_name, sha256) WHERE direction = 'pull'
         DO UPDATE SET remote_name = excluded.remote_name, outcome = 'registering', error = NULL, moved = 0, moved_to = NULL,
           run_id = excluded.run_id, updated_at = excluded.updated_at`,
      )
      .run(drop, remoteName, sha256, size, runId, at, at);
  }

  setPullOutcome(
    drop: string,
    sha256: string,
    outcome: "registered" | "processed" | "failed",
    fields: { caseId?: string; error?: string; remoteName?: string; size?: number; runId?: number } = {},
  ): void {
    const at = this.iso();
    const existing = this.pulledFile(drop, sha256);
    if (!existing) {
      this.db
        .prepare(
          `INSERT INTO drop_files (drop_name, direction, remote_name, sha256, size, case_id, outcome, error, run_id,
             created_at, updated_at) VALUES (?, 'pull', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          drop,
          fields.remoteName ?? "",
          sha256,
          fields.size ?? 0,
          fields.caseId ?? null,
          outcome,
          fields.error ?? null,
          fields.runId ?? null,
          at,
          at,
        );
      return;
    }
    this.db
      .prepare(
        `UPDATE drop_files SET outcome = ?, case_id = COALESCE(?, case_id), error = ?, run_id = COALESCE(?, run_id),
           moved = CASE WHEN ? THEN 0 ELSE moved END, moved_to = CASE WHEN ? THEN NULL ELSE moved_to END,
           updated_at = ? WHERE id = ?`,
      )
      .run(
        outcome,
        fields.caseId ?? null,
        fields.error ?? null,
        fields.runId ?? null,
        outcome === "failed" ? 1 : 0,
        outcome === "failed" ? 1 : 0,
        at,
        existing.id,
      );
  }

  /** Records where a pulled file (now named `remoteName` in the outbox) is about to be moved, before any rename. */
  setMoveTarget(drop: string, sha256: string, remoteName: string, movedTo: string): void {
    this.db
      .prepare(
        `UPDATE drop_files SET moved = 0, remote_name = ?, moved_to = ?, updated_at = ?
         WHERE direction = 'pull' AND drop_name = ? AND sha256 = ?`,
      )
      .run(remoteName, movedTo, this.iso(), drop, sha256);
  }

  /** Records that every rename of a pulled file is done; a registered file becomes "processed". */
  markMoved(drop: string, sha256: string): void {
    this.db
      .prepare(
        `UPDATE drop_files SET moved = 1, outcome = CASE outcome WHEN 'registered' THEN 'processed' ELSE outcome END,
           updated_at = ? WHERE direction = 'pull' AND drop_name = ? AND sha256 = ?`,
      )
      .run(this.iso(), drop, sha256);
  }

  /** The newest pull record of `remoteName` whose move was started but not finished. */
  pendingMove(drop: string, remoteName: string): DropFileRecord | undefined {
    const r = this.db
      .prepare(
        `SELECT * FROM drop_files WHERE direction = 'pull' AND drop_name = ? AND remote_name = ? AND moved = 0
           AND moved_to IS NOT NULL ORDER BY updated_at DESC, id DESC LIMIT 1`,
      )
      .get(drop, remoteName) as Record<string, unknown> | undefined;
    return r ? toFile(r) : undefined;
  }

  pushedFile(drop: string, caseId: string, kind: "payload" | "result"): DropFileRecord | undefined {
    const r = this.db
      .prepare("SELECT * FROM drop_files WHERE direction = 'push' AND drop_name = ? AND case_id = ? AND kind = ?")
      .get(drop, caseId, kind) as Record<string, unknown> | undefined;
    return r ? toFile(r) : undefined;
  }

  markDelivered(
    drop: string,
    f: { caseId: string; kind: "payload" | "result"; remoteName: string; sha256: string; size: number },
    runId: number,
  ): void {
    const at = this.iso();
    this.db
      .prepare(
        `INSERT INTO drop_files (drop_name, direction, remote_name, sha256, size, case_id, kind, outcome, run_id,
           created_at, updated_at) VALUES (?, 'push', ?, ?, ?, ?, ?, 'delivered', ?, ?, ?)
         ON CONFLICT (drop_name, case_id, kind) WHERE direction = 'push'
         DO UPDATE SET outcome = 'delivered', remote_name = excluded.remote_name, sha256 = excluded.sha256,
           size = excluded.size, run_id = excluded.run_id, updated_at = excluded.updated_at`,
      )
      .run(drop, f.remoteName, f.sha256, f.size, f.caseId, f.kind, runId, at, at);
  }

  /** Every drop_files row of a drop, oldest first (tests, history detail). */
  files(drop: string): DropFileRecord[] {
    return (
      this.db.prepare("SELECT * FROM drop_files WHERE drop_name = ? ORDER BY id").all(drop) as Record<string, unknown>[]
    ).map(toFile);
  }
}

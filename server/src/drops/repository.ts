import { type Selectable, sql } from "kysely";
import type { DropFilesTable, DropRunsTable, DropsTable } from "../db/schema.js";
import type { SqlContext } from "../db/sql.js";
import type { Drop, DropRun, RunError, RunStatus } from "./types.js";

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

/** A running run row with its owner, for stale-run detection. */
export interface RunOwner {
  id: number;
  drop: string;
  ownerPid: number;
  ownerInstance: string;
}

function toDrop(r: Selectable<DropsTable>): Drop {
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

function toRun(r: Selectable<DropRunsTable>): DropRun {
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

function toFile(r: Selectable<DropFilesTable>): DropFileRecord {
  return {
    id: r.id,
    drop: r.drop_name,
    direction: r.direction,
    remoteName: r.remote_name,
    sha256: r.sha256,
    size: r.size,
    caseId: r.case_id,
    kind: r.kind,
    outcome: r.outcome,
    error: r.error,
    moved: r.moved === 1,
    movedTo: r.moved_to,
    runId: r.run_id,
  };
}

/**
 * The drops tables (drops-001): drops, their runs and the files they moved. One running run per drop is kept by a
 * unique partial index (drop_runs_one_running); each pulled file is recorded once per drop by SHA-256 and each
 * pushed file once per (drop, case, kind), by unique indexes, on both databases. `now` stamps the rows.
 */
export class DropRepository {
  constructor(
    private readonly s: SqlContext,
    private readonly now: () => Date,
  ) {}

  private iso(): string {
    return this.now().toISOString();
  }

  async insertDrop(d: Omit<Drop, "health" | "consecutiveFailures" | "createdAt" | "updatedAt">): Promise<Drop> {
    const at = this.iso();
    await this.s.q
      .insertInto("drops")
      .values({
        name: d.name,
        agency: d.agency,
        direction: d.direction,
        host: d.host,
        port: d.port,
        username: d.username,
        remote_dir: d.remoteDir,
        host_key_sha256: d.hostKeySha256,
        schedule: d.schedule,
        completion: d.completion,
        enabled: d.enabled ? 1 : 0,
        max_attempts: d.maxAttempts,
        retry_base_ms: d.retryBaseMs,
        notify_emails: JSON.stringify(d.notifyEmails),
        created_at: at,
        created_by: d.createdBy,
        updated_at: at,
      })
      .execute();
    return (await this.getDrop(d.name))!;
  }

  async getDrop(name: string): Promise<Drop | undefined> {
    const r = await this.s.q.selectFrom("drops").selectAll().where("name", "=", name).executeTakeFirst();
    return r ? toDrop(r) : undefined;
  }

  async listDrops(): Promise<Drop[]> {
    return (await this.s.q.selectFrom("drops").selectAll().orderBy("name").execute()).map(toDrop);
  }

  async setEnabled(name: string, enabled: boolean): Promise<void> {
    await this.s.q
      .updateTable("drops")
      .set({ enabled: enabled ? 1 : 0, updated_at: this.iso() })
      .where("name", "=", name)
      .execute();
  }

  /** Records the outcome of a finished run on the drop; returns the health before and after. */
  async recordHealth(
    name: string,
    ok: boolean,
  ): Promise<{ before: "ok" | "failing"; after: "ok" | "failing"; failures: number }> {
    const before = (await this.getDrop(name))!;
    const failures = ok ? 0 : before.consecutiveFailures + 1;
    const after = ok ? "ok" : "failing";
    await this.s.q
      .updateTable("drops")
      .set({ health: after, consecutive_failures: failures, updated_at: this.iso() })
      .where("name", "=", name)
      .execute();
    return { before: before.health, after, failures };
  }

  async runningRuns(drop?: string): Promise<RunOwner[]> {
    let q = this.s.q
      .selectFrom("drop_runs")
      .select(["id", "drop_name", "owner_pid", "owner_instance"])
      .where("status", "=", "running");
    if (drop !== undefined) q = q.where("drop_name", "=", drop);
    const rows = await q.orderBy("id").execute();
    return rows.map((r) => ({ id: r.id, drop: r.drop_name, ownerPid: r.owner_pid, ownerInstance: r.owner_instance }));
  }

  /** Marks a run left "running" by a dead process as aborted, with the reason in its errors. */
  async abortRun(id: number, reason: string): Promise<void> {
    const at = this.iso();
    const run = await this.getRun(id);
    if (run?.status !== "running") return;
    const errors: RunError[] = [...run.errors, { at, code: "ABORTED", message: reason }];
    await this.s.q
      .updateTable("drop_runs")
      .set({ status: "aborted", ended_at: at, errors: JSON.stringify(errors) })
      .where("id", "=", id)
      .where("status", "=", "running")
      .execute();
  }

  /** Inserts a running run row; the unique partial index makes a second running row of one drop impossible. */
  async startRun(drop: string, trigger: "schedule" | "manual", ownerInstance: string): Promise<DropRun> {
    const r = await this.s.q
      .insertInto("drop_runs")
      .values({
        drop_name: drop,
        trigger,
        started_at: this.iso(),
        status: "running",
        owner_pid: process.pid,
        owner_instance: ownerInstance,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return (await this.getRun(r.id))!;
  }

  /** Saves a run's counters; `attempts` is kept when undefined. */
  async updateRun(
    id: number,
    fields: { attempts?: number; files: number; bytes: number; errors: RunError[] },
  ): Promise<void> {
    await this.s.q
      .updateTable("drop_runs")
      .set({
        ...(fields.attempts !== undefined ? { attempts: fields.attempts } : {}),
        files: fields.files,
        bytes: fields.bytes,
        errors: JSON.stringify(fields.errors),
      })
      .where("id", "=", id)
      .execute();
  }

  async finishRun(id: number, status: Exclude<RunStatus, "running" | "aborted">): Promise<DropRun> {
    await this.s.q.updateTable("drop_runs").set({ status, ended_at: this.iso() }).where("id", "=", id).execute();
    return (await this.getRun(id))!;
  }

  async getRun(id: number): Promise<DropRun | undefined> {
    const r = await this.s.q.selectFrom("drop_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toRun(r) : undefined;
  }

  /** Newest first. */
  async listRuns(drop: string, limit = 50): Promise<DropRun[]> {
    const rows = await this.s.q
      .selectFrom("drop_runs")
      .selectAll()
      .where("drop_name", "=", drop)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(toRun);
  }

  /** When the drop's last good run ended, or null. */
  async lastOkAt(drop: string): Promise<string | null> {
    const r = await this.s.q
      .selectFrom("drop_runs")
      .select("ended_at")
      .where("drop_name", "=", drop)
      .where("status", "in", ["ok", "partial"])
      .orderBy("ended_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return r?.ended_at ?? null;
  }

  async pulledFile(drop: string, sha256: string): Promise<DropFileRecord | undefined> {
    const r = await this.s.q
      .selectFrom("drop_files")
      .selectAll()
      .where("direction", "=", "pull")
      .where("drop_name", "=", drop)
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return r ? toFile(r) : undefined;
  }

  /** Creates or resets the pull record of a file about to be registered. */
  async markRegistering(drop: string, remoteName: string, sha256: string, size: number, runId: number): Promise<void> {
    const at = this.iso();
    await this.s.q
      .insertInto("drop_files")
      .values({
        drop_name: drop,
        direction: "pull",
        remote_name: remoteName,
        sha256,
        size,
        outcome: "registering",
        error: null,
        case_id: null,
        kind: null,
        run_id: runId,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc
          .columns(["drop_name", "sha256"])
          // The partial index's predicate, as a literal: a bound parameter would not match it.
          .where(sql<boolean>`direction = 'pull'`)
          .doUpdateSet((eb) => ({
            remote_name: eb.ref("excluded.remote_name"),
            outcome: "registering",
            error: null,
            moved: 0,
            moved_to: null,
            run_id: eb.ref("excluded.run_id"),
            updated_at: eb.ref("excluded.updated_at"),
          })),
      )
      .execute();
  }

  async setPullOutcome(
    drop: string,
    sha256: string,
    outcome: "registered" | "processed" | "failed",
    fields: { caseId?: string; error?: string; remoteName?: string; size?: number; runId?: number } = {},
  ): Promise<void> {
    const at = this.iso();
    const existing = await this.pulledFile(drop, sha256);
    if (!existing) {
      await this.s.q
        .insertInto("drop_files")
        .values({
          drop_name: drop,
          direction: "pull",
          remote_name: fields.remoteName ?? "",
          sha256,
          size: fields.size ?? 0,
          case_id: fields.caseId ?? null,
          kind: null,
          outcome,
          error: fields.error ?? null,
          run_id: fields.runId ?? null,
          created_at: at,
          updated_at: at,
        })
        .execute();
      return;
    }
    const failed = outcome === "failed";
    await this.s.q
      .updateTable("drop_files")
      .set({
        outcome,
        ...(fields.caseId !== undefined ? { case_id: fields.caseId } : {}),
        error: fields.error ?? null,
        ...(fields.runId !== undefined ? { run_id: fields.runId } : {}),
        ...(failed ? { moved: 0, moved_to: null } : {}),
        updated_at: at,
      })
      .where("id", "=", existing.id)
      .execute();
  }

  /** Records where a pulled file (now named `remoteName` in the outbox) is about to be moved, before any rename. */
  async setMoveTarget(drop: string, sha256: string, remoteName: string, movedTo: string): Promise<void> {
    await this.s.q
      .updateTable("drop_files")
      .set({ moved: 0, remote_name: remoteName, moved_to: movedTo, updated_at: this.iso() })
      .where("direction", "=", "pull")
      .where("drop_name", "=", drop)
      .where("sha256", "=", sha256)
      .execute();
  }

  /** Records that every rename of a pulled file is done; a registered file becomes "processed". */
  async markMoved(drop: string, sha256: string): Promise<void> {
    await this.s.q
      .updateTable("drop_files")
      .set({
        moved: 1,
        outcome: sql<DropFileRecord["outcome"]>`CASE outcome WHEN 'registered' THEN 'processed' ELSE outcome END`,
        updated_at: this.iso(),
      })
      .where("direction", "=", "pull")
      .where("drop_name", "=", drop)
      .where("sha256", "=", sha256)
      .execute();
  }

  /** The newest pull record of `remoteName` whose move was started but not finished. */
  async pendingMove(drop: string, remoteName: string): Promise<DropFileRecord | undefined> {
    const r = await this.s.q
      .selectFrom("drop_files")
      .selectAll()
      .where("direction", "=", "pull")
      .where("drop_name", "=", drop)
      .where("remote_name", "=", remoteName)
      .where("moved", "=", 0)
      .where("moved_to", "is not", null)
      .orderBy("updated_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return r ? toFile(r) : undefined;
  }

  async pushedFile(drop: string, caseId: string, kind: "payload" | "result"): Promise<DropFileRecord | undefined> {
    const r = await this.s.q
      .selectFrom("drop_files")
      .selectAll()
      .where("direction", "=", "push")
      .where("drop_name", "=", drop)
      .where("case_id", "=", caseId)
      .where("kind", "=", kind)
      .executeTakeFirst();
    return r ? toFile(r) : undefined;
  }

  async markDelivered(
    drop: string,
    f: { caseId: string; kind: "payload" | "result"; remoteName: string; sha256: string; size: number },
    runId: number,
  ): Promise<void> {
    const at = this.iso();
    await this.s.q
      .insertInto("drop_files")
      .values({
        drop_name: drop,
        direction: "push",
        remote_name: f.remoteName,
        sha256: f.sha256,
        size: f.size,
        case_id: f.caseId,
        kind: f.kind,
        outcome: "delivered",
        error: null,
        run_id: runId,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc
          .columns(["drop_name", "case_id", "kind"])
          .where(sql<boolean>`direction = 'push'`)
          .doUpdateSet((eb) => ({
            outcome: "delivered",
            remote_name: eb.ref("excluded.remote_name"),
            sha256: eb.ref("excluded.sha256"),
            size: eb.ref("excluded.size"),
            run_id: eb.ref("excluded.run_id"),
            updated_at: eb.ref("excluded.updated_at"),
          })),
      )
      .execute();
  }

  /** Every drop_files row of a drop, oldest first (tests, history detail). */
  async files(drop: string): Promise<DropFileRecord[]> {
    const rows = await this.s.q
      .selectFrom("drop_files")
      .selectAll()
      .where("drop_name", "=", drop)
      .orderBy("id")
      .execute();
    return rows.map(toFile);
  }
}

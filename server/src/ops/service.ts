import { readFileSync } from "node:fs";
import {
  type AuditPage,
  type AuditQuery,
  CASE_STATES,
  type CaseStatsDto,
  type CaseStatsQuery,
  type MailMessageDto,
  type MailPage,
  type MailQuery,
  type ServerStatusDto,
} from "@sealpost/protocol";
import type { Clock } from "../clock.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import { retentionStatus } from "../retention/status.js";

/** The operators' views: audit browse, mail outbox (and retry), server status, case statistics (roles admin, ops). */
export interface OpsService {
  audit(q: Raw<AuditQuery>): Promise<AuditPage>;
  outbox(q: Raw<MailQuery>): Promise<MailPage>;
  /** Queues a failed notice again, due now, attempts reset: NOT_FOUND, or CONFLICT when it is not failed. */
  retryMail(id: number): Promise<MailMessageDto>;
  status(): Promise<ServerStatusDto>;
  caseStats(q: Raw<CaseStatsQuery>): Promise<CaseStatsDto>;
}

/** A query as it arrives (validated against the contract, but still text: "?limit=5" is "5"). */
export type Raw<T> = { [K in keyof T]?: unknown };

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** A page size: the contract bounds it (1..500); `def` when not given. */
function limitOf(v: unknown, def: number): number {
  const n = v === undefined ? def : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new ServerError("BAD_REQUEST", "limit must be 1 to 500.");
  return n;
}

/** A page cursor: the decimal sequence number or id of the last row of the previous page. */
function cursorOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^[1-9][0-9]{0,15}$/.test(v)) {
    throw new ServerError("BAD_REQUEST", "The paging cursor (before) is not valid.", {
      hint: "Pass the nextCursor of the previous page unchanged.",
    });
  }
  // Row ids are 32-bit on PostgreSQL: a larger cursor means "from the newest".
  return Math.min(Number(v), MAX_ID);
}

/** The largest row id (PostgreSQL integer). */
const MAX_ID = 2_147_483_647;

/** An optional string filter (validated by the contract). */
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** An optional time bound as ISO-8601 UTC (the contract checked the date-time format). */
function timeOf(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  const t = typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new ServerError("BAD_REQUEST", `${name} must be a date-time.`);
  return new Date(t).toISOString();
}

/** The median of `xs` (not empty), the mean of the middle two for an even count. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function createOpsService(deps: {
  db: Db;
  clock: Clock;
  config: { retentionDays: number };
  /** When this instance started (default: when the service was built). */
  startedAt?: Date;
}): OpsService {
  const { db, clock } = deps;
  const startedAt = (deps.startedAt ?? clock.now()).toISOString();

  return {
    async audit(q) {
      const limit = limitOf(q.limit, 100);
      const filters = {
        from: timeOf(q.from, "from"),
        to: timeOf(q.to, "to"),
        actor: str(q.actor),
        action: str(q.action),
        caseId: str(q.caseId),
        agency: str(q.agency),
      };
      const entries = await db.read((uow) =>
        uow.ops.auditPage(
          Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)),
          limit + 1,
          cursorOf(q.before),
        ),
      );
      const more = entries.length > limit;
      const page = entries.slice(0, limit);
      return { entries: page, nextCursor: more ? String(page.at(-1)!.seq) : null };
    },

    async outbox(q) {
      const limit = limitOf(q.limit, 100);
      const state = str(q.state) as MailQuery["state"];
      const caseId = str(q.caseId);
      const rows = await db.read((uow) =>
        uow.ops.outboxPage(
          { ...(state ? { state } : {}), ...(caseId ? { caseId } : {}) },
          limit + 1,
          cursorOf(q.before),
        ),
      );
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      return { messages: page, nextCursor: more ? String(page.at(-1)!.id) : null };
    },

    async retryMail(id) {
      if (!Number.isSafeInteger(id) || id < 1)
        throw new ServerError("BAD_REQUEST", "A notice id is a positive integer.");
      if (id > MAX_ID) throw new ServerError("NOT_FOUND", `No notice ${id} in the mail outbox.`);
      return db.tx(async (uow) => {
        const m = await uow.mail.get(id);
        if (!m) throw new ServerError("NOT_FOUND", `No notice ${id} in the mail outbox.`);
        if (m.state !== "failed") {
          throw new ServerError("CONFLICT", `Notice ${id} is ${m.state}, not failed: only a failed notice is retried.`);
        }
        await uow.mail.requeueFailed([id], clock.now());
        return (await uow.mail.get(id))!;
      });
    },

    async status() {
      const now = clock.now();
      const { counts, mail, drops, lastAudit, auditEntries } = await db.read(async (uow) => ({
        counts: await uow.cases.countByState(),
        mail: await uow.mail.status(1),
        drops: await uow.drops.listDrops(),
        lastAudit: await uow.audit.last(),
        auditEntries: await uow.ops.auditCount(),
      }));
      const retention = await retentionStatus(db, { retentionDays: deps.config.retentionDays, now });
      const lastError = mail.lastErrors[0];
      return {
        version: VERSION,
        startedAt,
        now: now.toISOString(),
        database: db.dialect,
        cases: Object.fromEntries(Object.keys(CASE_STATES).map((s) => [s, counts[s] ?? 0])) as ServerStatusDto["cases"],
        mail: {
          counts: mail.counts,
          oldestQueuedAt: mail.oldestQueued?.createdAt ?? null,
          lastError: lastError ? { id: lastError.id, at: lastError.lastAttemptAt, message: lastError.lastError } : null,
        },
        retention,
        drops: {
          total: drops.length,
          enabled: drops.filter((d) => d.enabled).length,
          failing: drops.filter((d) => d.health === "failing").map((d) => d.name),
        },
        audit: {
          entries: auditEntries,
          lastSeq: lastAudit?.seq ?? 0,
          lastHash: lastAudit?.hash ?? "0".repeat(64),
        },
      };
    },

    async caseStats(q) {
      const from = timeOf(q.from, "from");
      const to = timeOf(q.to, "to");
      const { groups, times } = await db.read(async (uow) => ({
        groups: await uow.ops.caseGroups(from, to),
        times: await uow.ops.sentToResult(from, to),
      }));
      const seconds = (t: { sentAt: string; resultAt: string }) =>
        Math.max(0, (Date.parse(t.resultAt) - Date.parse(t.sentAt)) / 1000);
      const byMonth = new Map<string, number[]>();
      for (const t of times) byMonth.set(t.month, [...(byMonth.get(t.month) ?? []), seconds(t)]);
      return {
        from: from ?? null,
        to: to ?? null,
        total: groups.reduce((n, g) => n + g.cases, 0),
        groups: groups as CaseStatsDto["groups"],
        sentToResult: {
          cases: times.length,
          medianSeconds: times.length ? median(times.map(seconds)) : null,
          byMonth: [...byMonth.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([month, xs]) => ({ month, cases: xs.length, medianSeconds: median(xs) })),
        },
      };
    },
  };
}

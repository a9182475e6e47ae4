import Type, { type Static } from "typebox";
import { CASE_STATES } from "../cases.js";
import { CaseStateSchema } from "./cases.js";
import { DateTime, nullable, ref } from "./schema.js";

/** Endpoints for the web console and operators (roles admin and ops): audit, mail outbox, status, statistics. */

/** Page size bounds shared by the ops lists. */
const Limit = (def: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: def }));
/** An opaque cursor: the `nextCursor` of the previous page. */
const Cursor = Type.Optional(
  Type.String({ minLength: 1, maxLength: 200, description: "opaque cursor: nextCursor of the previous page" }),
);
/** The cursor of the next page, null on the last one. */
const NextCursor = nullable(Type.String({ description: "pass as `before` for the next page; null on the last page" }));

/** One entry of the audit chain. `hash` = SHA-256 over canonicalJson of every other field (prevHash included). */
export const AuditEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    time: DateTime,
    actor: nullable(Type.String({ description: 'staff id, "system" or "drop:<name>"' })),
    role: nullable(Type.String()),
    agency: nullable(Type.String()),
    action: Type.String({ description: 'e.g. "case.register", "case.upload_payload", "cert.revoke"' }),
    caseId: nullable(Type.String()),
    fileSha256: Type.Array(Type.String()),
    source: nullable(Type.String({ description: "source address, or the drop that acted" })),
    detail: Type.Record(Type.String(), Type.Unknown()),
    prevHash: Type.String(),
    hash: Type.String(),
  },
  { $id: "AuditEntry" },
);
export type AuditEntryDto = Static<typeof AuditEntry>;

/** GET /v1/audit: newest first. Every filter narrows (AND). */
export const AuditQuery = Type.Object({
  from: Type.Optional(Type.String({ format: "date-time", description: "entries at or after this time" })),
  to: Type.Optional(Type.String({ format: "date-time", description: "entries before this time" })),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "staff id (or system, drop:NAME)" })),
  action: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'an action ("case.cancel") or, ending in ".", every action under it ("case.")',
    }),
  ),
  caseId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  agency: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "agency of the actor" })),
  limit: Limit(100),
  before: Cursor,
});
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditPage = Type.Object(
  { entries: Type.Array(ref(AuditEntry)), nextCursor: NextCursor },
  { $id: "AuditPage" },
);
export type AuditPage = Static<typeof AuditPage>;

export const MailState = Type.Union(
  [Type.Literal("queued"), Type.Literal("sending"), Type.Literal("sent"), Type.Literal("failed")],
  { description: "queued -> sending -> sent; back to queued after a failed attempt; failed after the last attempt" },
);
export type MailStateName = Static<typeof MailState>;

/** One notice of the mail outbox. */
export const MailMessage = Type.Object(
  {
    id: Type.Integer(),
    createdAt: DateTime,
    kind: Type.String({ description: 'what it is about, e.g. "case.sent", "case.processed", "drop.failing"' }),
    caseId: nullable(Type.String()),
    recipients: Type.Array(Type.String()),
    subject: Type.String(),
    body: Type.String({ description: "plain text (never file content, keys or citizens' data)" }),
    state: MailState,
    attempts: Type.Integer(),
    nextAttemptAt: DateTime,
    lastError: nullable(Type.String()),
    lastAttemptAt: nullable(DateTime),
    sentAt: nullable(DateTime),
  },
  { $id: "MailMessage" },
);
export type MailMessageDto = Static<typeof MailMessage>;

/** GET /v1/mail/outbox: newest first. */
export const MailQuery = Type.Object({
  state: Type.Optional(MailState),
  caseId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  limit: Limit(100),
  before: Cursor,
});
export type MailQuery = Static<typeof MailQuery>;

export const MailPage = Type.Object(
  { messages: Type.Array(ref(MailMessage)), nextCursor: NextCursor },
  { $id: "MailPage" },
);
export type MailPage = Static<typeof MailPage>;

export const MailIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: "outbox message id" }) });

const StateCounts = Type.Object(
  Object.fromEntries(Object.keys(CASE_STATES).map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<
    keyof typeof CASE_STATES,
    ReturnType<typeof Type.Integer>
  >,
);

/** GET /v1/status: what ops watch. */
export const ServerStatus = Type.Object(
  {
    version: Type.String({ description: "server version" }),
    startedAt: DateTime,
    now: DateTime,
    database: Type.String({ description: 'the database kind, e.g. "sqlite"' }),
    cases: StateCounts,
    mail: Type.Object({
      counts: Type.Object({
        queued: Type.Integer(),
        sending: Type.Integer(),
        sent: Type.Integer(),
        failed: Type.Integer(),
      }),
      oldestQueuedAt: nullable(DateTime),
      lastError: nullable(Type.Object({ id: Type.Integer(), at: nullable(DateTime), message: Type.String() })),
    }),
    retention: Type.Object({
      retentionDays: Type.Integer(),
      purgedFiles: Type.Integer(),
      purgedBytes: Type.Integer(),
      lastPurgedAt: nullable(DateTime),
      dueFiles: Type.Integer({
        description: "files the next run would purge: non-zero for long means it is not running",
      }),
      dueBytes: Type.Integer(),
    }),
    drops: Type.Object({
      total: Type.Integer(),
      enabled: Type.Integer(),
      failing: Type.Array(Type.String(), { description: "names of drops whose last run used up its attempts" }),
    }),
    audit: Type.Object({
      entries: Type.Integer(),
      lastSeq: Type.Integer(),
      lastHash: Type.String(),
    }),
  },
  { $id: "ServerStatus" },
);
export type ServerStatusDto = Static<typeof ServerStatus>;

/** GET /v1/stats/cases: which cases count (by registration time; default all). */
export const CaseStatsQuery = Type.Object({
  from: Type.Optional(Type.String({ format: "date-time", description: "cases registered at or after this time" })),
  to: Type.Optional(Type.String({ format: "date-time", description: "cases registered before this time" })),
});
export type CaseStatsQuery = Static<typeof CaseStatsQuery>;

/** Median and count of the time from a case's payload upload (sent) to its result upload (processed). */
const Duration = Type.Object({
  cases: Type.Integer({ description: "cases with both times" }),
  medianSeconds: nullable(Type.Number({ description: "null when no case has a result yet" })),
});

export const CaseStats = Type.Object(
  {
    from: nullable(DateTime),
    to: nullable(DateTime),
    total: Type.Integer(),
    /**
     * One row per (month, sending agency, receiving agency, category, state) that has cases: the console pivots it
     * into cases by agency, category, state and month.
     */
    groups: Type.Array(
      Type.Object({
        month: Type.String({ pattern: "^\\d{4}-\\d{2}$", description: "month of registration (UTC), YYYY-MM" }),
        senderAgency: Type.String(),
        receivingAgency: Type.String(),
        category: Type.String(),
        state: CaseStateSchema,
        cases: Type.Integer(),
      }),
    ),
    sentToResult: Type.Object({
      ...Duration.properties,
      byMonth: Type.Array(Type.Object({ month: Type.String(), ...Duration.properties })),
    }),
  },
  { $id: "CaseStats" },
);
export type CaseStatsDto = Static<typeof CaseStats>;

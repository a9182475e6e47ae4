import Type, { type Static } from "typebox";
import { DateTime, nullable, ref } from "./schema.js";

/** SFTP drops (role ops): scheduled pulls from agency outboxes and pushes to their inboxes. No key material is ever returned. */

const Direction = Type.Union([Type.Literal("pull"), Type.Literal("push")]);
const Completion = Type.Union([Type.Literal("sidecar"), Type.Literal("marker")], {
  description:
    "pull: NAME.p7m is complete when NAME.p7m.json exists (sidecar written last) or when NAME.p7m.done exists (marker)",
});

/** POST /v1/drops. The private key is stored in the data folder (0600), never in the database, never returned. */
export const DropInput = Type.Object(
  {
    name: Type.String({
      pattern: "^[a-z0-9][a-z0-9._-]{0,63}$",
      description: "lower-case letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit",
    }),
    agency: Type.String({ minLength: 1, maxLength: 64, description: "registered agency code" }),
    direction: Direction,
    host: Type.String({ minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9.:_-]+$", description: "host name or IP" }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 22 })),
    username: Type.String({ minLength: 1, maxLength: 100 }),
    privateKey: Type.String({
      maxLength: 100_000,
      writeOnly: true,
      description: "unencrypted SSH private key (OpenSSH or PEM); stored in the data folder, never returned or logged",
    }),
    remoteDir: Type.String({ minLength: 1, maxLength: 1024, description: "absolute remote folder, without '..'" }),
    hostKeySha256: Type.String({
      pattern: "^SHA256:[A-Za-z0-9+/]{43}=?$",
      description: 'pinned host key fingerprint as OpenSSH prints it: "SHA256:" and 43 base64 characters',
    }),
    schedule: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'cron expression (croner: 5 fields, or 6 with seconds first), e.g. "*/15 * * * *"',
    }),
    completion: Type.Optional(Completion),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3, description: "attempts per run" })),
    retryBaseMs: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 3_600_000, default: 5000, description: "first wait; doubles each attempt" }),
    ),
    notifyEmails: Type.Optional(
      Type.Array(Type.String({ pattern: "^[^\\s@]+@[^\\s@]+$", maxLength: 320 }), { maxItems: 100 }),
    ),
  },
  { $id: "DropInput" },
);
export type DropInput = Static<typeof DropInput>;

export const Drop = Type.Object(
  {
    name: Type.String(),
    agency: Type.String(),
    direction: Direction,
    host: Type.String(),
    port: Type.Integer(),
    username: Type.String(),
    remoteDir: Type.String(),
    hostKeySha256: Type.String(),
    schedule: Type.String(),
    completion: Completion,
    enabled: Type.Boolean(),
    maxAttempts: Type.Integer(),
    retryBaseMs: Type.Integer(),
    notifyEmails: Type.Array(Type.String()),
    health: Type.Union([Type.Literal("ok"), Type.Literal("failing")], {
      description: '"failing" after a run used up its attempts; back to "ok" after the next good run',
    }),
    consecutiveFailures: Type.Integer(),
    createdAt: DateTime,
    createdBy: nullable(Type.String()),
    updatedAt: DateTime,
  },
  { $id: "Drop" },
);
export type DropDto = Static<typeof Drop>;

/** One problem met during a run: a failed attempt (no `file`) or a rejected / undeliverable file. */
export const DropRunError = Type.Object(
  {
    at: DateTime,
    code: Type.String({
      description:
        "DropError code (HOST_KEY_MISMATCH, AUTH_FAILED, KEY_MISSING, CONNECT_FAILED, SFTP_IO, BAD_SIDECAR, NOT_CMS, REJECTED), a server error code of a refused file (RECIPIENTS_MISMATCH, NOT_FOUND...), ABORTED or INTERNAL",
    }),
    message: Type.String(),
    file: Type.Optional(Type.String()),
    attempt: Type.Optional(Type.Integer()),
  },
  { $id: "DropRunError" },
);
export type DropRunErrorDto = Static<typeof DropRunError>;

export const DropRun = Type.Object(
  {
    id: Type.Integer(),
    drop: Type.String(),
    trigger: Type.Union([Type.Literal("schedule"), Type.Literal("manual")]),
    startedAt: DateTime,
    endedAt: nullable(DateTime),
    status: Type.Union(
      [
        Type.Literal("running"),
        Type.Literal("ok"),
        Type.Literal("partial"),
        Type.Literal("failed"),
        Type.Literal("aborted"),
      ],
      { description: '"partial": the run refused some files (see errors, each with its file) and took the rest' },
    ),
    attempts: Type.Integer(),
    files: Type.Integer({ description: "files registered (pull) or delivered (push)" }),
    bytes: Type.Integer(),
    errors: Type.Array(ref(DropRunError)),
  },
  { $id: "DropRun" },
);
export type DropRunDto = Static<typeof DropRun>;

/** A drop with its latest run (GET /v1/drops, GET /v1/drops/:name). */
export const DropView = Type.Object(
  {
    ...Drop.properties,
    lastRun: nullable(ref(DropRun)),
  },
  { $id: "DropView" },
);
export type DropViewDto = Static<typeof DropView>;

/** POST /v1/drops/:name/run: `wait` true answers 200 with the finished run instead of 202 with the running one. */
export const RunRequest = Type.Object({ wait: Type.Optional(Type.Boolean()) }, { $id: "RunRequest" });
export type RunRequest = Static<typeof RunRequest>;

export const RunResponse = Type.Object({ run: ref(DropRun) }, { $id: "RunResponse" });
export type RunResponse = Static<typeof RunResponse>;

export const DropNameParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, description: "drop name" }),
});

export const DropHistoryQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: "runs, newest first" })),
});

import Type, { type Static } from "typebox";
import { Actor } from "./auth.js";
import { DateTime, ref } from "./schema.js";

/**
 * Login of the web console by a one-time code: the browser asks for a code and a poll token; the user approves the
 * code with the CLI (`sealpost login --approve CODE`, a login signed with their signing key); the browser then
 * exchanges its poll token for a session cookie. The signing key never enters the browser.
 */

/** POST /v1/console/codes: a new code. `pollToken` stays in the page; only its holder can take the session. */
export const ConsoleCode = Type.Object(
  {
    code: Type.String({ description: "8 characters as XXXX-XXXX, no look-alike letters; single use" }),
    pollToken: Type.String({ description: "32 random bytes, base64url" }),
    expiresAt: DateTime,
  },
  { $id: "ConsoleCode" },
);
export type ConsoleCode = Static<typeof ConsoleCode>;

/** POST /v1/console/approve: the code the page shows (case and the dash do not matter). */
export const ConsoleApproveRequest = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 20 }) },
  { $id: "ConsoleApproveRequest" },
);
export type ConsoleApproveRequest = Static<typeof ConsoleApproveRequest>;

/** POST /v1/console/session: the page's poll. */
export const ConsoleSessionRequest = Type.Object(
  { pollToken: Type.String({ minLength: 1, maxLength: 100 }) },
  { $id: "ConsoleSessionRequest" },
);
export type ConsoleSessionRequest = Static<typeof ConsoleSessionRequest>;

/**
 * A console session as the page sees it: who is logged in and the CSRF token the page sends as the
 * X-Sealpost-Csrf header on every state change. `state` "pending" (code not approved yet) carries neither.
 */
export const ConsoleSession = Type.Object(
  {
    state: Type.Union([Type.Literal("pending"), Type.Literal("active")]),
    csrf: Type.Optional(Type.String()),
    actor: Type.Optional(ref(Actor)),
    idleSeconds: Type.Optional(Type.Integer({ description: "the session ends after this many seconds unused" })),
  },
  { $id: "ConsoleSession" },
);
export type ConsoleSession = Static<typeof ConsoleSession>;

/** The request header that carries the console session's CSRF token. */
export const CSRF_HEADER = "x-sealpost-csrf";

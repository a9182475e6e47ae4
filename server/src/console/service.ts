import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type { ConsoleCode } from "@sealpost/protocol";
import type { Clock } from "../clock.js";
import type { ServerConfig } from "../config.js";
import type { Actor } from "../context.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";

/**
 * Login of the web console without a key in the browser. The page asks for a code (8 characters from an alphabet
 * without look-alikes, 40 bits, valid 5 minutes) and a poll token it keeps; the user approves the code with the
 * CLI (`sealpost login --approve CODE`: a login signed with their signing key, then POST /v1/console/approve as
 * that login); the page's next poll takes the approved code (single use) and gets a session: a bearer token row
 * (same lifetime, revocation and allow-list checks as a CLI login) whose token is the HttpOnly cookie, and a CSRF
 * token the page sends as X-Sealpost-Csrf on every state change: SHA-256 of a label and the session token, so only
 * a holder of the cookie's value (which page script cannot read) can know it, and nothing more is stored. A session
 * unused for `consoleIdleSeconds` ends. Only SHA-256 hashes of codes, poll tokens and session tokens are stored.
 */

export const CODE_TTL_MS = 5 * 60 * 1000;
export const DEFAULT_CONSOLE_IDLE_SECONDS = 900;
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/** The idle clock is written at most this often (fewer writes; the timeout is minutes). */
const TOUCH_EVERY_MS = 15_000;

const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** The CSRF token of a session token. */
export const csrfOf = (token: string) =>
  createHash("sha256").update(`sealpost-console-csrf\0${token}`).digest("base64url");

/** The code as the user may type it: upper case, dashes and spaces dropped. */
export function normaliseCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

/** How a request reaches the session check. */
export interface SessionRequest {
  /** False for GET/HEAD/OPTIONS: they change nothing and need no CSRF token. */
  stateChanging: boolean;
  /** The X-Sealpost-Csrf header, if any. */
  csrf: string | undefined;
}

/** What the auth guard asks of the console sessions. */
export interface SessionChecker {
  /**
   * Checks the console session of a cookie token: known, not idle longer than the timeout (an idle session is
   * ended), and for a state-changing request the right CSRF token (403 FORBIDDEN otherwise, compared in constant
   * time). Returns false for an unknown or idle session (the guard then answers 401). Refreshes the idle clock.
   */
  checkSession(token: string, request: SessionRequest): Promise<boolean>;
}

/** The console domain as its routes see it. */
export interface ConsoleService extends SessionChecker {
  createCode(): Promise<ConsoleCode>;
  /** NOT_FOUND when the code is unknown, expired or already approved. */
  approve(actor: Actor, code: string): Promise<void>;
  /**
   * The page's poll. `undefined` while the code waits for approval; the new session's tokens once approved (the
   * code is then gone). NOT_FOUND for an unknown or expired poll token.
   */
  poll(pollToken: string, source: string): Promise<{ token: string; csrf: string; expiresAt: string } | undefined>;
  /** Ends the session on the server: its token row and its console row. */
  logout(actor: Actor, token: string): Promise<void>;
  readonly idleSeconds: number;
}

export interface ConsoleDeps {
  db: Db;
  clock: Clock;
  config: Pick<ServerConfig, "tokenTtlSeconds" | "consoleIdleSeconds">;
}

export function createConsoleService(deps: ConsoleDeps): ConsoleService {
  const { db, clock, config } = deps;
  const idleSeconds = config.consoleIdleSeconds ?? DEFAULT_CONSOLE_IDLE_SECONDS;

  return {
    idleSeconds,

    async createCode() {
      let code = "";
      for (let i = 0; i < 8; i++) code += ALPHABET[randomInt(ALPHABET.length)];
      const pollToken = randomBytes(32).toString("base64url");
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + CODE_TTL_MS).toISOString();
      await db.tx(async (uow) => {
        await uow.console.deleteExpiredCodes(now.toISOString());
        await uow.console.insertCode({
          code_hash: sha256hex(code),
          poll_hash: sha256hex(pollToken),
          expires_at: expiresAt,
        });
      });
      return { code: `${code.slice(0, 4)}-${code.slice(4)}`, pollToken, expiresAt };
    },

    async approve(actor, code) {
      const now = clock.now();
      await db.tx(async (uow) => {
        const ok = await uow.console.approveCode(
          sha256hex(normaliseCode(code)),
          now.toISOString(),
          actor.staffId,
          actor.certId,
        );
        if (!ok) {
          throw new ServerError("NOT_FOUND", "No such console login code waits for approval.", {
            hint: "Codes are valid 5 minutes and approved once; reload the console page for a new code.",
          });
        }
        await uow.audit.append(
          {
            actor: actor.staffId,
            role: actor.role,
            agency: actor.agency,
            action: "console.approve",
            source: actor.source,
          },
          now,
        );
      });
    },

    async poll(pollToken, source) {
      const pollHash = sha256hex(pollToken);
      const now = clock.now();
      return db.tx(async (uow) => {
        const row = await uow.console.codeByPoll(pollHash);
        if (!row || row.expires_at < now.toISOString()) {
          throw new ServerError("NOT_FOUND", "This console login code is unknown or expired.", {
            hint: "Reload the page for a new code.",
          });
        }
        if (!row.staff_id) return undefined;
        const taken = await uow.console.takeApprovedCode(pollHash);
        if (!taken?.staff_id || !taken.cert_id) {
          throw new ServerError("NOT_FOUND", "This console login code was already used.");
        }
        const token = randomBytes(32).toString("base64url");
        const csrf = csrfOf(token);
        const expiresAt = new Date(now.getTime() + config.tokenTtlSeconds * 1000).toISOString();
        await uow.auth.deleteExpiredTokens(now.toISOString());
        await uow.console.deleteIdleSessions(now.getTime() - idleSeconds * 1000);
        await uow.auth.insertToken({
          hash: sha256hex(token),
          staff_id: taken.staff_id,
          cert_id: taken.cert_id,
          created_at: now.toISOString(),
          expires_at: expiresAt,
        });
        await uow.console.insertSession({ token_hash: sha256hex(token), last_seen_ms: now.getTime() });
        const staff = await uow.registry.staff(taken.staff_id);
        await uow.audit.append(
          {
            actor: taken.staff_id,
            role: staff?.role ?? null,
            agency: staff?.agency ?? null,
            action: "console.login",
            source,
          },
          now,
        );
        return { token, csrf, expiresAt };
      });
    },

    async checkSession(token, request) {
      const hash = sha256hex(token);
      const nowMs = clock.now().getTime();
      const row = await db.read((uow) => uow.console.session(hash));
      if (!row) return false;
      if (nowMs - Number(row.last_seen_ms) > idleSeconds * 1000) {
        await db.tx(async (uow) => {
          await uow.console.deleteSession(hash);
          await uow.auth.deleteToken(hash);
        });
        return false;
      }
      if (request.stateChanging) {
        const given = createHash("sha256")
          .update(request.csrf ?? "")
          .digest();
        const want = createHash("sha256").update(csrfOf(token)).digest();
        if (!request.csrf || !timingSafeEqual(given, want)) {
          throw new ServerError("FORBIDDEN", "This request lacks the console session's CSRF token.", {
            hint: "Reload the console page.",
            details: { reason: "CSRF" },
          });
        }
      }
      if (nowMs - Number(row.last_seen_ms) > TOUCH_EVERY_MS) {
        await db.tx((uow) => uow.console.touchSession(hash, nowMs));
      }
      return true;
    },

    logout: (actor, token) =>
      db.tx(async (uow) => {
        await uow.console.deleteSession(sha256hex(token));
        await uow.auth.deleteToken(sha256hex(token));
        await uow.audit.append(
          {
            actor: actor.staffId,
            role: actor.role,
            agency: actor.agency,
            action: "console.logout",
            source: actor.source,
          },
          clock.now(),
        );
      }),
  };
}

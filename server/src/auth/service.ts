import { createHash, randomBytes, randomUUID, verify } from "node:crypto";
import {
  type ChallengeRequest,
  type ChallengeResponse,
  canonicalJson,
  type LoginRequest,
  type LoginResponse,
} from "@sealpost/protocol";
import { appendAudit } from "../audit/log.js";
import type { Actor, ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { ipAllowed } from "../registry/cidr.js";
import type { TokenResolver } from "./guard.js";
import { DEFAULT_AUTH_RATE_LIMIT, TokenBucketLimiter } from "./rate-limit.js";
import { certOf } from "../registry/certificates.js";
import { activeCertRows, getAgency, getStaff, validateCert } from "../registry/legacy.js";

/**
 * Login by signature. The CLI asks for a challenge (32 random bytes, single use, valid 2 minutes), signs
 * canonicalJson({type:"sealpost-login", challenge, origin, time}) with the staff member's registered signing key
 * (RSA PKCS#1 v1.5 SHA-256, or ECDSA SHA-256) and posts it with the certificate's SHA-256. The server checks that
 * the certificate is an active registered signing certificate of that staff member, re-validates it with the trust
 * policy, checks the origin (the server's public URL or the Host the request came to), that `time` is within five
 * minutes, and the signature. Then it issues a bearer token: 32 random bytes; only its SHA-256 is stored, so tokens
 * are looked up by hash (an index lookup on a hash leaks nothing useful by timing: no constant-time compare needed).
 */

export const CHALLENGE_TTL_MS = 2 * 60 * 1000;
const CLOCK_SKEW_MS = 5 * 60 * 1000;

const sha256hex = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");

function loginFailed(message: string, hint?: string): ServerError {
  return new ServerError("LOGIN_FAILED", message, hint ? { hint } : {});
}

/** The certificate SHA-256 a login claimed, as recorded: lower-case hex, or "" when it is not a SHA-256 at all. */
function claimedSha256(v: unknown): string {
  return typeof v === "string" && /^[0-9a-fA-F]{64}$/.test(v) ? v.toLowerCase() : "";
}

export function createChallenge(ctx: ServerContext, req: ChallengeRequest): ChallengeResponse {
  let staffId: string | undefined;
  if (typeof req.certSha256 === "string") {
    const r = ctx.db
      .prepare("SELECT staff_id FROM certificates WHERE sha256 = ? AND purpose = 'sign' AND status = 'active'")
      .get(req.certSha256.toLowerCase()) as { staff_id: string } | undefined;
    staffId = r?.staff_id;
  } else if (typeof req.email === "string") {
    const r = ctx.db.prepare("SELECT id FROM staff WHERE email = ? AND active = 1").get(req.email) as
      | { id: string }
      | undefined;
    staffId = r?.id;
  } else {
    throw new ServerError("BAD_REQUEST", "Give certSha256 or email.");
  }
  // An unknown identity gets a challenge too (bound to nobody): the answer is the same whether or not the e-mail
  // address or certificate is registered, and the login then fails like any login with an unregistered certificate.
  const id = randomUUID();
  const challenge = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS).toISOString();
  ctx.db.prepare("DELETE FROM challenges WHERE expires_at < ?").run(new Date().toISOString());
  ctx.db
    .prepare("INSERT INTO challenges (id, challenge, staff_id, expires_at) VALUES (?, ?, ?, ?)")
    .run(id, challenge, staffId ?? null, expiresAt);
  return { challengeId: id, challenge, expiresAt };
}

/** `origins`: the origins this server accepts in a login statement (its public URL, and the Host of the request). */
export async function login(
  ctx: ServerContext,
  req: LoginRequest,
  origins: string[],
  source: string,
): Promise<LoginResponse> {
  try {
    return await loginUnaudited(ctx, req, origins, source);
  } catch (e) {
    // Failed logins are recorded (who was claimed, from where, why); the signature itself is not.
    if (e instanceof ServerError && ["LOGIN_FAILED", "CERT_REJECTED", "SOURCE_NOT_ALLOWED"].includes(e.code)) {
      const cert = ctx.db
        .prepare(
          "SELECT s.id, s.role, s.agency FROM certificates c JOIN staff s ON s.id = c.staff_id WHERE c.sha256 = ?",
        )
        .get(claimedSha256(req?.certSha256)) as { id: string; role: string; agency: string } | undefined;
      ctx.db.transaction(() =>
        appendAudit(ctx.db, {
          actor: cert?.id ?? null,
          role: cert?.role ?? null,
          agency: cert?.agency ?? null,
          action: "auth.login_failed",
          source,
          // Bounded: this entry is written for unauthenticated requests, and the chain is append-only.
          detail: { code: e.code, reason: e.message.slice(0, 300), certSha256: claimedSha256(req?.certSha256) },
        }),
      )();
    }
    throw e;
  }
}

async function loginUnaudited(
  ctx: ServerContext,
  req: LoginRequest,
  origins: string[],
  source: string,
): Promise<LoginResponse> {
  if (!req || typeof req.challengeId !== "string" || typeof req.signature !== "string" || !req.statement) {
    throw new ServerError("BAD_REQUEST", "challengeId, certSha256, statement and signature are required.");
  }
  // Single use: the challenge is deleted whatever the outcome.
  const ch = ctx.db.transaction(() => {
    const row = ctx.db.prepare("SELECT * FROM challenges WHERE id = ?").get(req.challengeId) as
      | { challenge: string; staff_id: string | null; expires_at: string }
      | undefined;
    ctx.db.prepare("DELETE FROM challenges WHERE id = ?").run(req.challengeId);
    return row;
  })();
  if (!ch || ch.expires_at < new Date().toISOString()) {
    throw loginFailed("The login challenge is unknown, used or expired.", "Run sealpost login again.");
  }
  const st = req.statement;
  if (st.type !== "sealpost-login" || st.challenge !== ch.challenge)
    throw loginFailed("The signed challenge does not match.");
  if (!origins.includes(st.origin)) {
    throw loginFailed(
      `The login was signed for ${JSON.stringify(String(st.origin).slice(0, 200))}, not for this server.`,
    );
  }
  const t = Date.parse(st.time);
  if (!Number.isFinite(t) || Math.abs(t - Date.now()) > CLOCK_SKEW_MS) {
    throw loginFailed("The login time is more than five minutes off.", "Check this computer's clock.");
  }
  // A challenge issued for an unknown identity (staff_id NULL) fails here, exactly like an unregistered certificate.
  const row = ch.staff_id
    ? activeCertRows(ctx.db, ch.staff_id, "sign").find((r) => r.sha256 === String(req.certSha256).toLowerCase())
    : undefined;
  if (!row || !ch.staff_id) {
    throw loginFailed(
      "This certificate is not an active registered signing certificate of an active staff member.",
      "Ask your sealpost administrator to register your signing certificate.",
    );
  }
  const staff = getStaff(ctx.db, ch.staff_id);
  if (!staff.active) throw loginFailed("Your account is not active.");
  const { cert, chain } = certOf(row);
  await validateCert(ctx, cert, "sign", chain);
  const ok = verify(
    "sha256",
    Buffer.from(canonicalJson(st), "utf8"),
    cert.publicKey,
    Buffer.from(req.signature, "base64"),
  );
  if (!ok) throw loginFailed("The login signature does not verify with your registered signing certificate.");
  const agency = getAgency(ctx.db, staff.agency);
  if (!agency.active) throw loginFailed(`Agency ${agency.code} is no longer served by this relay.`);
  if (!ipAllowed(source, agency.allowCidrs)) {
    throw new ServerError("SOURCE_NOT_ALLOWED", `Logins from ${source} are not allowed for agency ${agency.code}.`);
  }
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + ctx.config.tokenTtlSeconds * 1000).toISOString();
  ctx.db.transaction(() => {
    ctx.db.prepare("DELETE FROM tokens WHERE expires_at < ?").run(new Date().toISOString());
    ctx.db
      .prepare("INSERT INTO tokens (hash, staff_id, cert_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
      .run(sha256hex(token), staff.id, row.id, new Date().toISOString(), expiresAt);
    appendAudit(ctx.db, {
      actor: staff.id,
      role: staff.role,
      agency: staff.agency,
      action: "auth.login",
      source,
      detail: { certSha256: row.sha256 },
    });
  })();
  return { token, expiresAt, staff };
}

/**
 * The actor behind a bearer token, or undefined when the token is unknown or expired, the staff member inactive or
 * the certificate no longer active. Throws SOURCE_NOT_ALLOWED when `source` is outside the agency's allow-list.
 */
export function actorForToken(ctx: ServerContext, token: string, source: string): Actor | undefined {
  const r = ctx.db
    .prepare(
      `SELECT t.cert_id, t.expires_at, s.id, s.name, s.email, s.agency, s.role, s.active, c.status, a.allow_cidrs, a.active AS agency_active
       FROM tokens t JOIN staff s ON s.id = t.staff_id JOIN certificates c ON c.id = t.cert_id
       JOIN agencies a ON a.code = s.agency WHERE t.hash = ?`,
    )
    .get(sha256hex(token)) as
    | {
        cert_id: string;
        expires_at: string;
        id: string;
        name: string;
        email: string;
        agency: string;
        role: Actor["role"];
        active: number;
        status: string;
        allow_cidrs: string;
        agency_active: number;
      }
    | undefined;
  if (!r || r.expires_at < new Date().toISOString() || r.active !== 1 || r.status !== "active") return undefined;
  if (r.agency_active !== 1) return undefined;
  if (!ipAllowed(source, JSON.parse(r.allow_cidrs) as string[])) {
    throw new ServerError("SOURCE_NOT_ALLOWED", `Requests from ${source} are not allowed for agency ${r.agency}.`);
  }
  return { staffId: r.id, name: r.name, email: r.email, agency: r.agency, role: r.role, certId: r.cert_id, source };
}

/** Deletes the token (logout). */
export function logout(ctx: ServerContext, actor: Actor, token: string): void {
  ctx.db.transaction(() => {
    ctx.db.prepare("DELETE FROM tokens WHERE hash = ?").run(sha256hex(token));
    appendAudit(ctx.db, {
      actor: actor.staffId,
      role: actor.role,
      agency: actor.agency,
      action: "auth.logout",
      source: actor.source,
    });
  })();
}

/** The auth domain as its routes and the other domains see it. */
export interface AuthService extends TokenResolver {
  createChallenge(req: ChallengeRequest): Promise<ChallengeResponse>;
  /**
   * `requestOrigin`: the origin the request came to (its protocol and Host header), or undefined. The login
   * statement must name the configured public URL's origin, or only when none is configured, `requestOrigin`.
   */
  login(req: LoginRequest, requestOrigin: string | undefined, source: string): Promise<LoginResponse>;
  logout(actor: Actor, token: string): Promise<void>;
  /**
   * Takes one request from `source`'s allowance for the unauthenticated auth endpoints (token bucket, config
   * authRateLimit). Returns 0 when the request may proceed, otherwise the whole seconds to wait.
   */
  takeAuthAllowance(source: string): Promise<number>;
}

/**
 * The origins a login statement may name. With `publicUrl` configured: that origin only. The Host header is chosen
 * by whoever sends the request, so a relaying phishing server could otherwise post a statement signed for its own
 * origin with its own name as Host. Without `publicUrl` (a loopback or test setup) the origin the request came to.
 */
function loginOrigins(ctx: ServerContext, requestOrigin: string | undefined): string[] {
  if (ctx.config.publicUrl) return [new URL(ctx.config.publicUrl).origin];
  return requestOrigin ? [requestOrigin] : [];
}

export function createAuthService(ctx: ServerContext): AuthService {
  const limiter = new TokenBucketLimiter({ ...DEFAULT_AUTH_RATE_LIMIT, ...ctx.config.authRateLimit });
  return {
    createChallenge: async (req) => createChallenge(ctx, req),
    login: (req, requestOrigin, source) => login(ctx, req, loginOrigins(ctx, requestOrigin), source),
    logout: async (actor, token) => logout(ctx, actor, token),
    actorForToken: async (token, source) => actorForToken(ctx, token, source),
    takeAuthAllowance: async (source) => limiter.take(source),
  };
}

import { createHash, randomBytes, randomUUID, verify } from "node:crypto";
import { isIP } from "node:net";
import {
  type ChallengeRequest,
  type ChallengeResponse,
  canonicalJson,
  type LoginRequest,
  type LoginResponse,
} from "@sealpost/protocol";
import type { Clock } from "../clock.js";
import type { SessionChecker } from "../console/service.js";
import { isLoopback, parseListen, type ServerConfig } from "../config.js";
import type { Actor } from "../context.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import { type CertificateValidator, certOf } from "../registry/certificates.js";
import { ipAllowed } from "../registry/cidr.js";
import { agencyDto, staffDto } from "../registry/dto.js";
import { activeCertificates } from "../registry/service.js";
import type { TokenResolver } from "./guard.js";
import { checkRateLimit, DEFAULT_AUTH_RATE_LIMIT } from "./rate-limit.js";

/**
 * Login by signature. The CLI asks for a challenge (32 random bytes, single use, valid 2 minutes), signs
 * canonicalJson({type:"sealpost-login", challenge, origin, time}) with the staff member's registered signing key
 * (RSA PKCS#1 v1.5 SHA-256, or ECDSA SHA-256) and posts it with the certificate's SHA-256. The server checks that
 * the certificate is an active registered signing certificate of that staff member, re-validates it with the trust
 * policy, checks the origin (the server's public URL; without one, a loopback origin on the port this instance
 * listens on: never what the request's Host header names), that `time` is within five minutes, and the signature. Then it issues a bearer token: 32 random bytes; only its SHA-256 is stored, so tokens
 * are looked up by hash (an index lookup on a hash leaks nothing useful by timing: no constant-time compare needed).
 * Challenges, tokens and the login rate limit live in the database: any instance answers any step.
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

/** The auth domain as its routes and the other domains see it. */
export interface AuthService extends TokenResolver {
  createChallenge(req: ChallengeRequest): Promise<ChallengeResponse>;
  /**
   * The login statement must name the configured public URL's origin or, only when none is configured (a server
   * that listens on loopback only), http or https on a loopback name (127.0.0.1, localhost, [::1], the listen host)
   * with the local port of the connection the request came in on (`localPort`; without a socket, the port of
   * `config.listen`). The request's Host header plays no part.
   */
  login(req: LoginRequest, source: string, localPort?: number): Promise<LoginResponse>;
  logout(actor: Actor, token: string): Promise<void>;
  /**
   * Takes one request from `source`'s allowance for the unauthenticated auth endpoints (token bucket, config
   * authRateLimit, shared by every instance). Returns 0 when the request may proceed, otherwise the whole seconds to
   * wait.
   */
  takeAuthAllowance(source: string): Promise<number>;
}

/**
 * What the auth service works with. `config` is read at each call (publicUrl may be set while running; startServer
 * writes the port it actually listens on into `listen`).
 */
export interface AuthDeps {
  db: Db;
  clock: Clock;
  validator: CertificateValidator;
  config: Pick<ServerConfig, "publicUrl" | "listen" | "tokenTtlSeconds" | "authRateLimit">;
  /** The web console's sessions, accepted by the guard beside bearer tokens. Default: none. */
  sessions?: SessionChecker;
}

export function createAuthService(deps: AuthDeps): AuthService {
  const { db, clock, validator, config } = deps;
  const limit = checkRateLimit({ ...DEFAULT_AUTH_RATE_LIMIT, ...config.authRateLimit });

  /**
   * The origins a login statement may name. With `publicUrl` configured: that origin only. The Host header is
   * chosen by whoever sends the request, so a relaying phishing server could post a statement signed for its own
   * origin with its own name as Host: it is never consulted. Without `publicUrl` (startServer then listens on
   * loopback only) the loopback origins of the port the request arrived on.
   */
  const loginOrigins = (localPort: number | undefined): string[] => {
    if (config.publicUrl) return [new URL(config.publicUrl).origin];
    const listen = parseListen(config.listen);
    const host = listen.host;
    const port = localPort ?? listen.port;
    const names = new Set(["127.0.0.1", "localhost", "[::1]", isIP(host) === 6 ? `[${host}]` : host]);
    const out: string[] = [];
    for (const name of names) {
      if (!isLoopback(name.replace(/^\[|\]$/g, ""))) continue;
      for (const scheme of ["http", "https"]) out.push(new URL(`${scheme}://${name}:${port}`).origin);
    }
    return out;
  };

  async function loginUnaudited(req: LoginRequest, origins: string[], source: string): Promise<LoginResponse> {
    if (!req || typeof req.challengeId !== "string" || typeof req.signature !== "string" || !req.statement) {
      throw new ServerError("BAD_REQUEST", "challengeId, certSha256, statement and signature are required.");
    }
    // Single use: the challenge is deleted whatever the outcome.
    const ch = await db.tx((uow) => uow.auth.takeChallenge(req.challengeId));
    const now = clock.now();
    if (!ch || ch.expires_at < now.toISOString()) {
      throw loginFailed("The login challenge is unknown, used or expired.", "Run sealpost login again.");
    }
    const st = req.statement;
    if (st.type !== "sealpost-login" || st.challenge !== ch.challenge) {
      throw loginFailed("The signed challenge does not match.");
    }
    if (!origins.includes(st.origin)) {
      throw loginFailed(
        `The login was signed for ${JSON.stringify(String(st.origin).slice(0, 200))}, not for this server.`,
        config.publicUrl
          ? `Log in with --server ${new URL(config.publicUrl).origin}; never at an address someone sent you.`
          : "This server has no public URL: log in through its loopback address (e.g. http://127.0.0.1:PORT).",
      );
    }
    const t = Date.parse(st.time);
    if (!Number.isFinite(t) || Math.abs(t - now.getTime()) > CLOCK_SKEW_MS) {
      throw loginFailed("The login time is more than five minutes off.", "Check this computer's clock.");
    }
    // A challenge issued for an unknown identity (staff_id NULL) fails here, exactly like an unregistered certificate.
    const staffId = ch.staff_id;
    const found = staffId
      ? await db.tx(async (uow) => {
          const rows = await activeCertificates(uow, now, staffId, "sign");
          const row = rows.find((r) => r.sha256 === String(req.certSha256).toLowerCase());
          const staff = await uow.registry.staff(staffId);
          const agency = staff ? await uow.registry.agency(staff.agency) : undefined;
          return row && staff && agency ? { row, staff: staffDto(staff), agency: agencyDto(agency) } : undefined;
        })
      : undefined;
    if (!found) {
      throw loginFailed(
        "This certificate is not an active registered signing certificate of an active staff member.",
        "Ask your sealpost administrator to register your signing certificate.",
      );
    }
    const { row, staff, agency } = found;
    if (!staff.active) throw loginFailed("Your account is not active.");
    const { cert, chain } = certOf(row);
    await validator.validate(cert, "sign", chain);
    const ok = verify(
      "sha256",
      Buffer.from(canonicalJson(st), "utf8"),
      cert.publicKey,
      Buffer.from(req.signature, "base64"),
    );
    if (!ok) throw loginFailed("The login signature does not verify with your registered signing certificate.");
    if (!agency.active) throw loginFailed(`Agency ${agency.code} is no longer served by this relay.`);
    if (!ipAllowed(source, agency.allowCidrs)) {
      throw new ServerError("SOURCE_NOT_ALLOWED", `Logins from ${source} are not allowed for agency ${agency.code}.`);
    }
    const token = randomBytes(32).toString("base64url");
    const issued = clock.now();
    const expiresAt = new Date(issued.getTime() + config.tokenTtlSeconds * 1000).toISOString();
    await db.tx(async (uow) => {
      await uow.auth.deleteExpiredTokens(issued.toISOString());
      await uow.auth.insertToken({
        hash: sha256hex(token),
        staff_id: staff.id,
        cert_id: row.id,
        created_at: issued.toISOString(),
        expires_at: expiresAt,
      });
      await uow.audit.append(
        {
          actor: staff.id,
          role: staff.role,
          agency: staff.agency,
          action: "auth.login",
          source,
          detail: { certSha256: row.sha256 },
        },
        issued,
      );
    });
    return { token, expiresAt, staff };
  }

  return {
    sessions: deps.sessions,

    async createChallenge(req) {
      const byCert = typeof req?.certSha256 === "string";
      if (!byCert && typeof req?.email !== "string") throw new ServerError("BAD_REQUEST", "Give certSha256 or email.");
      const now = clock.now();
      // An unknown identity gets a challenge too (bound to nobody): the answer is the same whether or not the e-mail
      // address or certificate is registered, and the login then fails like any login with an unregistered
      // certificate.
      const id = randomUUID();
      const challenge = randomBytes(32).toString("base64url");
      const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString();
      await db.tx(async (uow) => {
        const staffId = byCert
          ? await uow.registry.activeSigningCertOwner(req.certSha256!)
          : (await uow.registry.activeStaffByEmail(req.email!))?.id;
        await uow.auth.deleteExpiredChallenges(now.toISOString());
        await uow.auth.insertChallenge({ id, challenge, staff_id: staffId ?? null, expires_at: expiresAt });
      });
      return { challengeId: id, challenge, expiresAt };
    },

    async login(req, source, localPort) {
      try {
        return await loginUnaudited(req, loginOrigins(localPort), source);
      } catch (e) {
        // Failed logins are recorded (who was claimed, from where, why); the signature itself is not.
        if (e instanceof ServerError && ["LOGIN_FAILED", "CERT_REJECTED", "SOURCE_NOT_ALLOWED"].includes(e.code)) {
          const claimed = claimedSha256(req?.certSha256);
          await db.tx(async (uow) => {
            const owner = await uow.registry.certificateOwner(claimed);
            await uow.audit.append(
              {
                actor: owner?.id ?? null,
                role: owner?.role ?? null,
                agency: owner?.agency ?? null,
                action: "auth.login_failed",
                source,
                // Bounded: this entry is written for unauthenticated requests, and the chain is append-only.
                detail: { code: e.code, reason: e.message.slice(0, 300), certSha256: claimed },
              },
              clock.now(),
            );
          });
        }
        throw e;
      }
    },

    /**
     * The actor behind a bearer token, or undefined when the token is unknown or expired, the staff member inactive
     * or the certificate no longer active. Throws SOURCE_NOT_ALLOWED when `source` is outside the agency's allow-list.
     */
    async actorForToken(token, source) {
      const r = await db.read((uow) => uow.auth.tokenActor(sha256hex(token)));
      if (!r || r.expires_at < clock.now().toISOString() || r.active !== 1 || r.status !== "active") return undefined;
      if (r.agency_active !== 1) return undefined;
      if (!ipAllowed(source, JSON.parse(r.allow_cidrs) as string[])) {
        throw new ServerError("SOURCE_NOT_ALLOWED", `Requests from ${source} are not allowed for agency ${r.agency}.`);
      }
      return { staffId: r.id, name: r.name, email: r.email, agency: r.agency, role: r.role, certId: r.cert_id, source };
    },

    /** Deletes the token (logout). */
    logout: (actor, token) =>
      db.tx(async (uow) => {
        await uow.auth.deleteToken(sha256hex(token));
        await uow.audit.append(
          {
            actor: actor.staffId,
            role: actor.role,
            agency: actor.agency,
            action: "auth.logout",
            source: actor.source,
          },
          clock.now(),
        );
      }),

    takeAuthAllowance: (source) =>
      db.tx((uow) => uow.auth.takeRateLimitToken(`auth:${source}`, clock.now().getTime(), limit)),
  };
}

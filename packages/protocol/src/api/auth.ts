import Type, { type Static } from "typebox";
import { DateTime, Email, ref, Sha256Input } from "./schema.js";
import { Staff } from "./registry.js";

/**
 * Login. The CLI signs `canonicalJson(statement)` (see canonical-json.ts) with the staff member's registered
 * *signing* key (RSA PKCS#1 v1.5 or ECDSA, SHA-256) and sends the signature base64.
 */

/** POST /v1/auth/challenge: identify by the signing certificate's SHA-256 fingerprint, or by e-mail. */
export const ChallengeRequest = Type.Object(
  {
    certSha256: Type.Optional(Sha256Input),
    email: Type.Optional(Type.String({ maxLength: 320 })),
  },
  { $id: "ChallengeRequest", description: "Give certSha256 or email." },
);
export type ChallengeRequest = Static<typeof ChallengeRequest>;

export const ChallengeResponse = Type.Object(
  {
    challengeId: Type.String(),
    challenge: Type.String({ description: "32 random bytes, base64url; single use" }),
    expiresAt: DateTime,
  },
  { $id: "ChallengeResponse" },
);
export type ChallengeResponse = Static<typeof ChallengeResponse>;

/** What the CLI signs to log in. `origin` is the server's URL origin as the CLI used it; `time` is ISO 8601. */
export const LoginStatement = Type.Object(
  {
    type: Type.Literal("sealpost-login"),
    challenge: Type.String({ maxLength: 200 }),
    origin: Type.String({ maxLength: 2000 }),
    time: Type.String({ maxLength: 100 }),
  },
  { $id: "LoginStatement" },
);
export type LoginStatement = Static<typeof LoginStatement>;

/** POST /v1/auth/login */
export const LoginRequest = Type.Object(
  {
    challengeId: Type.String({ maxLength: 100 }),
    certSha256: Type.String({ maxLength: 100, description: "SHA-256 of the signing certificate (hex)" }),
    statement: ref(LoginStatement),
    signature: Type.String({ maxLength: 20000, description: "base64 signature over canonicalJson(statement)" }),
  },
  { $id: "LoginRequest" },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const LoginResponse = Type.Object(
  {
    token: Type.String({ description: "bearer token (32 random bytes, base64url)" }),
    expiresAt: DateTime,
    staff: ref(Staff),
  },
  { $id: "LoginResponse" },
);
export type LoginResponse = Static<typeof LoginResponse>;

/** GET /v1/auth/whoami: the authenticated caller. */
export const Actor = Type.Object(
  {
    staffId: Type.String(),
    name: Type.String(),
    email: Email,
    agency: Type.String(),
    role: Type.Union([Type.Literal("staff"), Type.Literal("admin"), Type.Literal("ops")]),
    certId: Type.String({ description: "id of the signing certificate the login used" }),
    source: Type.String({ description: "the address the request came from" }),
  },
  { $id: "Actor" },
);
export type ActorDto = Static<typeof Actor>;

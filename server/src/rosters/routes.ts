import type { NewOfficer, RosterUpload } from "@sealpost/protocol";
import type { FastifyInstance } from "fastify";
import { actorWith, requireAuth, type TokenResolver } from "../auth/guard.js";
import { ServerError } from "../errors.js";
import type { RosterService } from "./service.js";

/** Options of the rosters plugin. */
export interface RosterRoutesOptions {
  rosters: RosterService;
  auth: TokenResolver;
}

type Code = { Params: { code: string } };
type OfficerKey = { Params: { code: string; sha256: string } };

const SHA256 = /^[0-9a-fA-F]{64}$/;
/** Largest PUT roster body (bytes): the base64 CMS (RosterUpload allows 4,000,000 characters) and the JSON around it. */
const ROSTER_BODY_LIMIT = 4_100_000;

/**
 * Rosters API (the endpoints getRoster, putRoster, getRosterProposal, listOfficers, addOfficer, removeOfficer of
 * ENDPOINTS in @sealpost/protocol):
 *   GET    /v1/agencies/:code/roster                 any logged-in user: the current signed roster (404 if none)
 *   PUT    /v1/agencies/:code/roster                 any logged-in user: store a roster an officer signed -> 201
 *   GET    /v1/agencies/:code/roster/proposal        any logged-in user: the registry's recipients now
 *   GET    /v1/admin/agencies/:code/officers         admin: the agency's officer keys
 *   POST   /v1/admin/agencies/:code/officers         admin: add one ({ user, certSha256? }) -> 201
 *   DELETE /v1/admin/agencies/:code/officers/:sha256 admin: remove one
 * Storing needs no role: the officer's signature is what the relay checks.
 */
export async function rosterRoutes(app: FastifyInstance, opts: RosterRoutesOptions): Promise<void> {
  const { rosters } = opts;
  requireAuth(app, opts.auth);

  app.get<Code>("/v1/agencies/:code/roster", async (request) => {
    actorWith(request);
    return rosters.current(request.params.code);
  });
  // A roster of MAX_ROSTER_BYTES content, signed and in base64, is larger than the server's default body limit.
  app.put<Code>("/v1/agencies/:code/roster", { bodyLimit: ROSTER_BODY_LIMIT }, async (request, reply) => {
    const actor = actorWith(request);
    const body = request.body as RosterUpload | undefined;
    if (!body || typeof body !== "object") throw new ServerError("BAD_REQUEST", "The body must be { cms }.");
    return reply.status(201).send(await rosters.store(actor, request.params.code, body));
  });
  app.get<Code>("/v1/agencies/:code/roster/proposal", async (request) => {
    actorWith(request);
    return rosters.proposal(request.params.code);
  });

  app.get<Code>("/v1/admin/agencies/:code/officers", async (request) => {
    actorWith(request, "admin");
    return rosters.listOfficers(request.params.code);
  });
  app.post<Code>("/v1/admin/agencies/:code/officers", async (request, reply) => {
    const actor = actorWith(request, "admin");
    const body = request.body as NewOfficer | undefined;
    if (!body || typeof body !== "object") throw new ServerError("BAD_REQUEST", "The body must be { user }.");
    if (body.certSha256 !== undefined && (typeof body.certSha256 !== "string" || !SHA256.test(body.certSha256))) {
      throw new ServerError("BAD_REQUEST", "certSha256 must be a SHA-256 in hex.");
    }
    return reply.status(201).send(await rosters.addOfficer(actor, request.params.code, body));
  });
  app.delete<OfficerKey>("/v1/admin/agencies/:code/officers/:sha256", async (request) => {
    const actor = actorWith(request, "admin");
    if (!SHA256.test(request.params.sha256)) throw new ServerError("BAD_REQUEST", "The key must be a SHA-256 in hex.");
    return rosters.removeOfficer(actor, request.params.code, request.params.sha256);
  });
}

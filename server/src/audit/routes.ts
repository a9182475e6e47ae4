import { MAX_TREE_SIZE } from "@sealpost/protocol";
import { encodeTreeHead, TREE_HEAD_HEADER } from "@sealpost/protocol/transparency";
import type { FastifyInstance } from "fastify";
import { actorWith, requireAuth, type TokenResolver } from "../auth/guard.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../log.js";
import type { AuditService } from "./service.js";

/** Options of the audit plugin. */
export interface AuditRoutesOptions {
  audit: AuditService;
  auth: TokenResolver;
}

/**
 * A whole number from the query: decimal digits only, 0 to 2^48 (`min` upwards). BAD_REQUEST naming the parameter
 * otherwise; undefined when absent and not `required`.
 */
function sizeParam(query: unknown, name: string, min: number, required: boolean): number | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined) {
    if (required) throw new ServerError("BAD_REQUEST", `The query is not valid: ${name} is required.`);
    return undefined;
  }
  const n = typeof v === "string" && /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > MAX_TREE_SIZE) {
    throw new ServerError(
      "BAD_REQUEST",
      `The query is not valid: ${name} must be a whole number from ${min} to ${MAX_TREE_SIZE}.`,
    );
  }
  return n;
}

/** The audit log's transparency endpoints: key, head and consistency/inclusion proofs (public), a case's trail. */
export async function auditRoutes(app: FastifyInstance, opts: AuditRoutesOptions): Promise<void> {
  const { audit } = opts;
  app.get("/v1/audit/key", async () => audit.auditKey());
  app.get("/v1/audit/head", async () => audit.head());
  app.get("/v1/audit/consistency", async (request) => {
    const from = sizeParam(request.query, "from", 0, true)!;
    const to = sizeParam(request.query, "to", 0, true)!;
    return audit.consistency(from, to);
  });
  app.get("/v1/audit/inclusion", async (request) => {
    const seq = sizeParam(request.query, "seq", 1, true)!;
    const size = sizeParam(request.query, "size", 1, true)!;
    return audit.inclusion(seq, size);
  });
  await app.register(async (scoped) => {
    requireAuth(scoped, opts.auth);
    scoped.get<{ Params: { id: string } }>("/v1/audit/cases/:id", async (request) => {
      const id = request.params.id;
      if (id.length === 0 || id.length > 200) throw new ServerError("BAD_REQUEST", "The URL is not valid: id.");
      return audit.caseAudit(actorWith(request), id, sizeParam(request.query, "size", 1, false));
    });
  });
}

/**
 * Puts the latest signed tree head into every response (Sealpost-Tree-Head, see encodeTreeHead), errors included.
 * Read after the handler's transaction committed, so a response that recorded an entry carries a head that covers
 * it. A head that cannot be read (database unavailable) is left out and logged: the response itself stands.
 */
export function installTreeHeadHeader(app: FastifyInstance, audit: AuditService, log?: Logger): void {
  app.addHook("onSend", async (_request, reply, payload) => {
    try {
      const head = await audit.latestHead();
      if (head) reply.header(TREE_HEAD_HEADER, encodeTreeHead(head));
    } catch (e) {
      log?.warn("could not read the latest tree head", { error: e instanceof Error ? e.message : String(e) });
    }
    return payload;
  });
}

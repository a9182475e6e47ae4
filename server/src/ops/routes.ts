import type { FastifyInstance } from "fastify";
import { requireAuth, type TokenResolver } from "../auth/guard.js";
import type { OpsService, Raw } from "./service.js";

/** Options of the ops plugin. */
export interface OpsRoutesOptions {
  ops: OpsService;
  auth: TokenResolver;
}

/**
 * The operators' endpoints (listAudit, listOutbox, retryMail, getStatus, getCaseStats of the contract): their
 * roles (admin, ops; retry: ops) and query bounds are checked by the contract layer (http/contract.ts).
 */
export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  const { ops } = opts;
  requireAuth(app, opts.auth);
  app.get<{ Querystring: Raw<Record<string, unknown>> }>("/v1/audit", async (request) => ops.audit(request.query));
  app.get<{ Querystring: Raw<Record<string, unknown>> }>("/v1/mail/outbox", async (request) =>
    ops.outbox(request.query),
  );
  app.post<{ Params: { id: string } }>("/v1/mail/outbox/:id/retry", async (request) =>
    ops.retryMail(Number(request.params.id)),
  );
  app.get("/v1/status", async () => ops.status());
  app.get<{ Querystring: Raw<Record<string, unknown>> }>("/v1/stats/cases", async (request) =>
    ops.caseStats(request.query),
  );
}

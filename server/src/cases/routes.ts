import type { CreateCaseRequest, ReceiptRequest } from "@sealpost/protocol";
import type { FastifyInstance } from "fastify";
import { actorWith, requireAuth, type TokenResolver } from "../auth/guard.js";
import { parseCaseListQuery } from "./paging.js";
import type { CaseService } from "./service.js";

/** Options of the cases plugin. */
export interface CaseRoutesOptions {
  cases: CaseService;
  auth: TokenResolver;
}

type P = { Params: { id: string } };

/** Case API (role staff; side rules in service.ts). The case files' routes are the files domain's. */
export async function caseRoutes(app: FastifyInstance, opts: CaseRoutesOptions): Promise<void> {
  const { cases } = opts;
  requireAuth(app, opts.auth);

  // The body stays the array of cases (older clients read it as is); the cursor of the next page travels in the
  // X-Next-Cursor header, absent on the last page.
  app.get<{ Querystring: Record<string, unknown> }>("/v1/cases", async (request, reply) => {
    const actor = actorWith(request);
    const { cases: page, nextCursor } = await cases.list(actor, parseCaseListQuery(request.query));
    if (nextCursor) reply.header("x-next-cursor", nextCursor);
    return page;
  });
  app.post("/v1/cases", async (request, reply) =>
    reply.status(201).send(await cases.create(actorWith(request), request.body as CreateCaseRequest)),
  );
  app.post("/v1/cases/recipients", async (request) =>
    cases.previewRecipients(actorWith(request), request.body as CreateCaseRequest),
  );
  app.get<P>("/v1/cases/:id", async (request) => cases.get(actorWith(request), request.params.id));
  app.get<P>("/v1/cases/:id/profile", async (request) => cases.profile(actorWith(request), request.params.id));
  app.get<P>("/v1/cases/:id/result-profile", async (request) =>
    cases.resultProfile(actorWith(request), request.params.id),
  );
  app.post<P & { Body: { text: string } }>("/v1/cases/:id/notes", async (request, reply) =>
    reply.status(201).send(await cases.addNote(actorWith(request), request.params.id, request.body?.text)),
  );
  app.post<P & { Body: { reason?: string } }>("/v1/cases/:id/cancel", async (request) =>
    cases.cancel(actorWith(request), request.params.id, request.body?.reason ?? ""),
  );
  app.get<P>("/v1/cases/:id/receipts", async (request) => cases.listReceipts(actorWith(request), request.params.id));
  // 201 for a new receipt; 200 with the receipt kept when the same receipt is posted again.
  app.post<P>("/v1/cases/:id/receipts", async (request, reply) => {
    const { receipt, created } = await cases.addReceipt(
      actorWith(request),
      request.params.id,
      request.body as ReceiptRequest,
    );
    return reply.status(created ? 201 : 200).send(receipt);
  });
}

import type { Readable } from "node:stream";
import type { CreateCaseRequest, ReceiptRequest } from "@sealpost/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  acceptFile,
  addNote,
  addReceipt,
  assertCanUpload,
  cancelCase,
  createCase,
  type FileKind,
  getCase,
  listCases,
  listReceipts,
  profile,
  recordDownload,
  resultProfile,
} from "../cases/service.js";
import { parseCaseListQuery } from "../cases/paging.js";
import { parseRange, receiveToTemp } from "../cases/upload.js";
import { acquireUploadLease } from "../cases/upload-lease.js";
import type { ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import { actorWith, requireAuth } from "./auth.js";

type P = { Params: { id: string } };

/** Case API (role staff; side rules in cases/service.ts). Files are streamed: PUT and GET application/octet-stream. */
export async function caseRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  requireAuth(app, ctx);
  // Upload bodies are handed to the handler as the raw stream, unread.
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  // The body stays the array of cases (older clients read it as is); the cursor of the next page travels in the
  // X-Next-Cursor header, absent on the last page.
  app.get<{ Querystring: Record<string, unknown> }>("/v1/cases", async (request, reply) => {
    const actor = actorWith(request);
    const { cases, nextCursor } = listCases(ctx, actor, parseCaseListQuery(request.query));
    if (nextCursor) reply.header("x-next-cursor", nextCursor);
    return cases;
  });
  app.post("/v1/cases", async (request, reply) =>
    reply.status(201).send(await createCase(ctx, actorWith(request), request.body as CreateCaseRequest)),
  );
  app.get<P>("/v1/cases/:id", async (request) => getCase(ctx, actorWith(request), request.params.id));
  app.get<P>("/v1/cases/:id/profile", async (request) => profile(ctx, actorWith(request), request.params.id));
  app.get<P>("/v1/cases/:id/result-profile", async (request) =>
    resultProfile(ctx, actorWith(request), request.params.id),
  );
  app.post<P & { Body: { text: string } }>("/v1/cases/:id/notes", async (request, reply) =>
    reply.status(201).send(addNote(ctx, actorWith(request), request.params.id, request.body?.text)),
  );
  app.post<P & { Body: { reason?: string } }>("/v1/cases/:id/cancel", async (request) =>
    cancelCase(ctx, actorWith(request), request.params.id, request.body?.reason ?? ""),
  );
  app.get<P>("/v1/cases/:id/receipts", async (request) => listReceipts(ctx, actorWith(request), request.params.id));
  // 201 for a new receipt; 200 with the receipt kept when the same receipt is posted again.
  app.post<P>("/v1/cases/:id/receipts", async (request, reply) => {
    const { receipt, created } = await addReceipt(
      ctx,
      actorWith(request),
      request.params.id,
      request.body as ReceiptRequest,
    );
    return reply.status(created ? 201 : 200).send(receipt);
  });

  const upload = (kind: FileKind) => async (request: FastifyRequest<P>, reply: FastifyReply) => {
    const actor = actorWith(request);
    if (!request.headers["content-type"]?.startsWith("application/octet-stream")) {
      throw new ServerError("UNSUPPORTED_MEDIA_TYPE");
    }
    // Refuse before reading a byte of the body (no spooling for callers who may not upload here).
    assertCanUpload(ctx, actor, request.params.id, kind);
    // One upload at a time per case (also across instances): a second one is refused before its body is read.
    const lease = acquireUploadLease(ctx.db, request.params.id);
    try {
      const declared = request.headers["content-length"];
      const file = await receiveToTemp(ctx.store, request.body as Readable, {
        maxBytes: ctx.config.maxUploadBytes,
        ...(declared !== undefined ? { expectedBytes: Number(declared) } : {}),
      });
      return reply.status(201).send(await acceptFile(ctx, actor, request.params.id, kind, file));
    } finally {
      lease.release();
    }
  };
  app.put<P>("/v1/cases/:id/payload", upload("payload"));
  app.put<P>("/v1/cases/:id/result", upload("result"));

  const download = (kind: FileKind) => async (request: FastifyRequest<P>, reply: FastifyReply) => {
    const actor = actorWith(request);
    const rangeHeader = request.headers.range;
    let range: ReturnType<typeof parseRange>;
    const { sha256, size } = recordDownload(ctx, actor, request.params.id, kind, rangeHeader, (size) => {
      range = parseRange(rangeHeader, size);
      if (range === "unsatisfiable") {
        reply.header("content-range", `bytes */${size}`);
        throw new ServerError("RANGE_NOT_SATISFIABLE", undefined, { details: { size } });
      }
    });
    reply
      .header("accept-ranges", "bytes")
      .header("etag", `"${sha256}"`)
      .header("x-sealpost-sha256", sha256)
      .header("content-disposition", `attachment; filename="${request.params.id}.${kind}.p7m"`)
      .type("application/octet-stream");
    if (range && range !== "unsatisfiable") {
      reply
        .status(206)
        .header("content-range", `bytes ${range.start}-${range.end}/${size}`)
        .header("content-length", range.end - range.start + 1);
      return reply.send(ctx.store.read(sha256, range));
    }
    reply.header("content-length", size);
    return reply.send(ctx.store.read(sha256));
  };
  app.get<P>("/v1/cases/:id/payload", download("payload"));
  app.get<P>("/v1/cases/:id/result", download("result"));
}

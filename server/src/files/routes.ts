import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { actorWith, requireAuth, type TokenResolver } from "../auth/guard.js";
import type { CaseService, FileKind } from "../cases/service.js";
import { ServerError } from "../errors.js";
import type { FileStore } from "./store.js";
import { parseRange, receiveToTemp } from "./upload.js";

/** Options of the files plugin. */
export interface FileRoutesOptions {
  /** The case rules every upload and download goes through (sides, states, recipients, audit). */
  cases: CaseService;
  store: FileStore;
  auth: TokenResolver;
  /** Largest accepted upload in bytes (config maxUploadBytes). */
  maxUploadBytes: number;
  /** The upload progress floor (config uploadProgress, see uploadProgressOf). */
  uploadProgress: { minBytes: number; intervalMs: number };
}

type P = { Params: { id: string } };

/**
 * The case files: PUT and GET application/octet-stream, streamed both ways. An upload is refused before its body is
 * read when the caller may not deliver it, lands in a temporary file of the store under the size limit, and becomes
 * the case's file only through CaseService.acceptFile. A download is recorded (transition, audit) before the bytes
 * are streamed, with single-range support.
 */
export async function fileRoutes(app: FastifyInstance, opts: FileRoutesOptions): Promise<void> {
  const { cases, store } = opts;
  requireAuth(app, opts.auth);
  // Upload bodies are handed to the handler as the raw stream, unread.
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  const upload = (kind: FileKind) => async (request: FastifyRequest<P>, reply: FastifyReply) => {
    const actor = actorWith(request);
    if (!request.headers["content-type"]?.startsWith("application/octet-stream")) {
      throw new ServerError("UNSUPPORTED_MEDIA_TYPE");
    }
    // Refuse before reading a byte of the body (no spooling for callers who may not upload here).
    await cases.assertCanUpload(actor, request.params.id, kind);
    const lease = await cases.takeUploadLease(actor, request.params.id); // one per case, bounded per staff

    let accepted: Awaited<ReturnType<CaseService["acceptFile"]>>;
    try {
      const declared = request.headers["content-length"];
      const file = await receiveToTemp(store, request.body as Readable, {
        maxBytes: opts.maxUploadBytes,
        progress: opts.uploadProgress,
        ...(declared !== undefined ? { expectedBytes: Number(declared) } : {}),
      });
      accepted = await cases.acceptFile(actor, request.params.id, kind, file);
    } finally {
      await lease.release(); // before the answer: the next upload may follow it at once
    }
    return reply.status(201).send(accepted);
  };
  // streamedBody: the body deadline of app.ts does not apply; uploadProgress bounds these.
  app.put<P>("/v1/cases/:id/payload", { config: { streamedBody: true } }, upload("payload"));
  app.put<P>("/v1/cases/:id/result", { config: { streamedBody: true } }, upload("result"));

  const download = (kind: FileKind) => async (request: FastifyRequest<P>, reply: FastifyReply) => {
    const actor = actorWith(request);
    const rangeHeader = request.headers.range;
    let range: ReturnType<typeof parseRange>;
    const { sha256, size } = await cases.recordDownload(actor, request.params.id, kind, rangeHeader, (size) => {
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
      return reply.send(store.read(sha256, range));
    }
    reply.header("content-length", size);
    return reply.send(store.read(sha256));
  };
  app.get<P>("/v1/cases/:id/payload", download("payload"));
  app.get<P>("/v1/cases/:id/result", download("result"));
}

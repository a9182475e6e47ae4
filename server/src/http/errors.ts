import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CATALOGUE, ServerError, type ServerErrorCode } from "../errors.js";
import type { Logger } from "../log.js";

/** Fastify's own error codes mapped onto the catalogue. */
const FASTIFY_CODES: Record<string, ServerErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BAD_REQUEST",
  FST_ERR_CTP_INVALID_JSON_BODY: "BAD_REQUEST",
  FST_ERR_VALIDATION: "BAD_REQUEST",
};

/**
 * Fastify's router errors (a URL that is not valid percent-encoding, a path parameter over 100 characters):
 * 400 BAD_REQUEST with the catalogue's error body.
 */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? "The URL is not valid: a path parameter is too long."
      : "The URL is not valid.";
  reply
    .status(ERROR_CATALOGUE.BAD_REQUEST.status)
    .type("application/json")
    .send({ error: { code: "BAD_REQUEST", message } });
}

/**
 * One error handler: ServerError => its catalogue status and `{error:{code,message,hint?,details?}}`; Fastify's
 * parser errors => their catalogue code; anything else => 500 INTERNAL (logged to `log`, never echoed).
 */
export function installErrorHandling(app: FastifyInstance, log?: Logger): void {
  app.setErrorHandler((err: FastifyError | ServerError, request, reply) => {
    let e: ServerError;
    if (err instanceof ServerError) e = err;
    else if (typeof err.code === "string" && FASTIFY_CODES[err.code])
      e = new ServerError(FASTIFY_CODES[err.code]!, err.message);
    else if ((err as FastifyError).statusCode === 400 || (err as { type?: string }).type === "entity.parse.failed") {
      e = new ServerError("BAD_REQUEST", "The request body is not valid JSON.");
    } else {
      // Fastify's own logger is off: the server's logger records it (never the body or headers of the request).
      log?.error("internal error", {
        method: request.method,
        route: request.routeOptions?.url ?? request.url.split("?")[0],
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      e = new ServerError("INTERNAL");
    }
    if (reply.sent || reply.raw.headersSent) return;
    const body = {
      error: {
        code: e.code,
        message: e.message,
        ...(e.hint ? { hint: e.hint } : {}),
        ...(e.details ? { details: e.details } : {}),
      },
    };
    if (e.code === "PAYLOAD_TOO_LARGE" || e.code === "UPLOAD_INCOMPLETE") reply.header("connection", "close");
    reply.status(ERROR_CATALOGUE[e.code].status).type("application/json").send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: { code: "NOT_FOUND", message: `No such endpoint: ${request.method} ${request.url.split("?")[0]}` },
    });
  });
}

import Type, { type Static, type TObject, type TSchema } from "typebox";
import { API_ERROR_CODES, type ApiErrorCode, ERROR_CATALOGUE, ErrorBody } from "./error-catalogue.js";
import type { Role } from "./registry.js";
import { Binary } from "./schema.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Who may call an endpoint: "public" (no token: login and the API document), "any" (any logged-in user), or the
 * roles allowed. The server refuses other roles with 403 FORBIDDEN before the request body is read.
 */
export type Access = "public" | "any" | readonly Role[];

/** A success response: its JSON schema (or Binary for a streamed file, NoContent for 204) and response headers. */
export interface ResponseDef {
  readonly schema: TSchema;
  readonly description: string;
  readonly headers?: Readonly<Record<string, TSchema>>;
}

/**
 * One endpoint of the relay's HTTP API, defined once: the server registers its route from it (validation,
 * serialisation, role check), the OpenAPI document is generated from those routes, and the client's methods and
 * types come from it.
 */
export interface Endpoint {
  readonly method: HttpMethod;
  /** URL path with `:name` parameters (Fastify's syntax), e.g. "/v1/cases/:id". */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  readonly params?: TObject;
  readonly query?: TObject;
  /** Request headers the endpoint reads (lower-case names). */
  readonly headers?: TObject;
  /** JSON request body. */
  readonly body?: TSchema;
  /** True when the request body is a streamed file (application/octet-stream), never JSON. */
  readonly upload?: boolean;
  /** Success responses by status. */
  readonly responses: Readonly<Record<number, ResponseDef>>;
  /**
   * The catalogue codes the endpoint answers besides those every endpoint of its kind can (see errorCodesOf):
   * the route's own refusals.
   */
  readonly errors: readonly ApiErrorCode[];
}

/** Identity helper that keeps each endpoint's literal types (for the client's inference). */
export function defineEndpoints<const T extends Record<string, Endpoint>>(endpoints: T): T {
  return endpoints;
}

/**
 * Every code an endpoint can answer: its own `errors`, and those implied by its shape: BAD_REQUEST when it takes
 * parameters, a query, headers or a body; UNAUTHENTICATED and SOURCE_NOT_ALLOWED unless public; FORBIDDEN when
 * limited to roles, and for any non-public endpoint that changes state or downloads a file (a web console session
 * without its CSRF token); INTERNAL always. In catalogue order.
 */
export function errorCodesOf(e: Endpoint): ApiErrorCode[] {
  const codes = new Set<ApiErrorCode>(e.errors);
  if (e.params || e.query || e.headers || e.body) codes.add("BAD_REQUEST");
  if (e.access !== "public") {
    codes.add("UNAUTHENTICATED");
    codes.add("SOURCE_NOT_ALLOWED");
  }
  if (Array.isArray(e.access)) codes.add("FORBIDDEN");
  if (e.access !== "public" && (e.method !== "GET" || isDownload(e))) codes.add("FORBIDDEN");
  codes.add("INTERNAL");
  return API_ERROR_CODES.filter((c) => codes.has(c));
}

/**
 * The error responses of an endpoint by HTTP status: each an ErrorBody whose `code` is one of the codes of that
 * status the endpoint can answer (also listed in the description, e.g. "NOT_CMS, RECIPIENTS_MISMATCH").
 */
export function errorResponsesOf(e: Endpoint): Record<number, TSchema> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const c of errorCodesOf(e)) {
    const s = ERROR_CATALOGUE[c].status;
    byStatus.set(s, [...(byStatus.get(s) ?? []), c]);
  }
  const out: Record<number, TSchema> = {};
  for (const [status, codes] of byStatus) {
    out[status] = Type.Object(
      {
        error: Type.Object({
          ...ErrorBody.properties.error.properties,
          code: Type.Union(codes.map((c) => Type.Literal(c))),
        }),
      },
      { description: codes.join(", ") },
    );
  }
  return out;
}

/** True when the endpoint answers a streamed file (application/octet-stream). */
export function isDownload(e: Endpoint): boolean {
  return Object.values(e.responses).some((r) => r.schema === Binary);
}

/** Path parameters of an endpoint, with values, substituted into its path (each value URI-encoded). */
export function pathOf(e: Pick<Endpoint, "path">, params: Record<string, unknown> = {}): string {
  return e.path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined || v === null || v === "") throw new TypeError(`${e.path}: parameter ${name} is missing`);
    return encodeURIComponent(String(v));
  });
}

/** The static type of an optional schema (`undefined` when absent). */
export type StaticOf<S> = S extends TSchema ? Static<S> : undefined;

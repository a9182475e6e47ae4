import {
  API_ERROR_CODES,
  Binary,
  ENDPOINTS,
  type Endpoint,
  type EndpointName,
  ERROR_CATALOGUE,
  errorResponsesOf,
  NAMED_SCHEMAS,
  NoContent,
  type Role,
  type TSchema,
} from "@sealpost/protocol";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from "fastify";
import { ServerError } from "../errors.js";

/**
 * The routes' side of the API contract (ENDPOINTS in @sealpost/protocol): each route's schema options (params,
 * querystring, headers, body, every response and error status) come from its endpoint, so Fastify validates requests
 * and serialises responses with the same schemas the OpenAPI document and the client are generated from; the role
 * check an endpoint declares runs before the request body is read.
 */

/** The endpoint a route serves, kept in its config (the OpenAPI transform and the tests read it). */
export interface ContractConfig {
  endpoint: EndpointName;
}

type Or<T, D> = T extends TSchema ? T : D;

/** The Fastify schema of endpoint `E`, typed so that the TypeBox type provider infers the request's types. */
export interface SchemaOf<E extends Endpoint> extends FastifySchema {
  params: Or<E["params"], undefined>;
  querystring: Or<E["query"], undefined>;
  headers: Or<E["headers"], undefined>;
  body: Or<E["body"], undefined>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The endpoint of ENDPOINTS the route serves. */
    endpoint?: EndpointName;
  }
}

/**
 * A plain copy of a schema as JSON (TypeBox schemas carry symbols that other tools should not see), with unions of
 * string constants written as `enum` (clearer in the document and in validation messages).
 */
export function plain<T>(schema: T): T {
  if (schema === undefined) return schema;
  return JSON.parse(JSON.stringify(schema), (_k, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as { anyOf?: { type?: unknown; const?: unknown }[] };
      if (
        Array.isArray(o.anyOf) &&
        o.anyOf.length > 0 &&
        o.anyOf.every((m) => typeof m.const === "string" && Object.keys(m).every((k) => k === "type" || k === "const"))
      ) {
        const { anyOf, ...rest } = o;
        return { type: "string", enum: anyOf.map((m) => m.const), ...rest };
      }
    }
    return v;
  }) as T;
}

/** A named schema (with `$id`, registered once) as a reference to it; any other schema as a plain copy. */
function use(schema: unknown): Record<string, unknown> {
  const id = (schema as { $id?: unknown }).$id;
  return typeof id === "string" ? { $ref: `${id}#` } : plain(schema as Record<string, unknown>);
}

/** Response schemas by status: the endpoint's successes (JSON, a streamed file, or no content) and its errors. */
function responsesOf(e: Endpoint): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(e.responses)) {
    const headers = r.headers ? { headers: plain(r.headers) } : {};
    if (r.schema === Binary) {
      out[status] = {
        description: r.description,
        content: { "application/octet-stream": { schema: plain(Binary) } },
        ...headers,
      };
    } else if (r.schema === NoContent) {
      out[status] = { description: r.description, type: "null", ...headers };
    } else {
      out[status] = { ...use(r.schema), description: r.description, ...headers };
    }
  }
  for (const [status, schema] of Object.entries(errorResponsesOf(e))) out[status] = plain(schema);
  return out;
}

/** The schema options of the route that serves `e`. */
export function schemaOf<E extends Endpoint>(name: EndpointName, e: E): SchemaOf<E> {
  return {
    operationId: name,
    summary: e.summary,
    ...(e.description ? { description: e.description } : {}),
    tags: [e.tag],
    ...(e.access === "public" ? { security: [] } : {}),
    ...(e.params ? { params: plain(e.params) } : {}),
    ...(e.query ? { querystring: plain(e.query) } : {}),
    ...(e.headers ? { headers: plain(e.headers) } : {}),
    ...(e.body && !e.upload ? { body: use(e.body) } : {}),
    response: responsesOf(e),
  } as unknown as SchemaOf<E>;
}

/**
 * The route options (method, url, schema, config, role check) of endpoint `name`; spread them into `app.route()`
 * of an app with the TypeBox type provider and add the handler. The role check (403 FORBIDDEN for a role the
 * endpoint does not allow) runs in onRequest, after authentication and before the body is read; `onRequest` hooks
 * given here run after it.
 */
export function routeOf<K extends EndpointName>(
  name: K,
  options: { onRequest?: (request: FastifyRequest, reply: FastifyReply) => Promise<void> } = {},
) {
  const e = ENDPOINTS[name] as (typeof ENDPOINTS)[K];
  const endpoint: Endpoint = e;
  const roles = Array.isArray(endpoint.access) ? (endpoint.access as readonly Role[]) : undefined;
  const hooks: ((request: FastifyRequest, reply: FastifyReply) => Promise<void>)[] = [];
  if (roles) {
    hooks.push(async (request) => {
      const a = request.actor;
      if (!a) throw new ServerError("UNAUTHENTICATED");
      if (!roles.includes(a.role)) {
        throw new ServerError("FORBIDDEN", `This needs the ${roles.join(" or ")} role; you are ${a.role}.`);
      }
    });
  }
  if (options.onRequest) hooks.push(options.onRequest);
  return {
    method: endpoint.method as HTTPMethods,
    url: endpoint.path,
    schema: schemaOf(name, e),
    config: { endpoint: name as EndpointName },
    ...(hooks.length > 0 ? { onRequest: hooks } : {}),
  };
}

/**
 * Installs the validators: request bodies are validated as sent (no type coercion: "5" is not a number), path
 * parameters, query strings and headers with coercion (they are text on the wire: "?limit=5" is the integer 5).
 * Both know every named schema of the contract and the formats (date-time, email ...).
 */
export function installContractValidation(app: FastifyInstance): void {
  const make = (coerce: boolean) => {
    const ajv = new Ajv({
      coerceTypes: coerce ? "array" : false,
      useDefaults: true,
      removeAdditional: false,
      allErrors: false,
      verbose: true,
      strict: false,
    });
    addFormats.default(ajv);
    for (const s of NAMED_SCHEMAS) ajv.addSchema(plain(s) as object);
    return ajv;
  };
  const body = make(false);
  const parts = make(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? body : parts).compile(schema as object));
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const e = new Error(validationMessage(errors as ErrorObject[], dataVar));
    return Object.assign(e, { validationErrors: errors });
  });
  for (const s of NAMED_SCHEMAS) app.addSchema(plain(s) as unknown as { $id: string });
}

const PARTS: Record<string, string> = {
  body: "The request body",
  querystring: "The query",
  params: "The URL",
  headers: "A request header",
};

/**
 * A clear message for the first validation error: where ("The request body"), which field, what is wrong, and the
 * field's description when its schema has one, e.g. `The request body is not valid: recordCount must be >= 0.`
 */
export function validationMessage(errors: ErrorObject[], dataVar: string): string {
  const first = errors[0];
  if (!first) return `${PARTS[dataVar] ?? "The request"} is not valid.`;
  let field = first.instancePath.replace(/^\//, "").replaceAll("/", ".");
  if (first.keyword === "required")
    field = [field, (first.params as { missingProperty: string }).missingProperty].filter(Boolean).join(".");
  if (first.keyword === "additionalProperties") {
    field = [field, (first.params as { additionalProperty: string }).additionalProperty].filter(Boolean).join(".");
  }
  const what =
    first.keyword === "required"
      ? "is required"
      : first.keyword === "additionalProperties"
        ? "is not a known field"
        : first.keyword === "enum"
          ? `must be one of: ${((first.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(", ")}`
          : first.keyword === "type" && dataVar === "querystring" && Array.isArray(first.data)
            ? "must be given once"
            : first.keyword === "pattern" && (first.params as { pattern?: string }).pattern === "\\S"
              ? "must not be blank"
              : (first.message ?? "is not valid");
  const described = (first.parentSchema as { description?: unknown } | undefined)?.description;
  const hint = typeof described === "string" && first.keyword !== "required" ? ` (${described})` : "";
  return `${PARTS[dataVar] ?? "The request"} is not valid: ${field ? `${field} ` : ""}${what}${hint}.`;
}

/** The error codes and their statuses, as the OpenAPI document lists them (x-error-codes). */
export function errorCodeTable(): Record<string, { status: number; message: string }> {
  return Object.fromEntries(API_ERROR_CODES.map((c) => [c, { ...ERROR_CATALOGUE[c] }]));
}

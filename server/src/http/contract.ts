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
  // Each validator checks a copy: the handlers read the request as sent (their own parsers turn "?limit=5" into a
  // number and apply the defaults), so neither coercion nor defaults may change what they see.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validate = (httpPart === "body" ? body : parts).compile(schema as object);
    const check = (data: unknown) => {
      const ok = validate(structuredClone(data));
      check.errors = validate.errors;
      return ok;
    };
    check.errors = null as typeof validate.errors;
    return check;
  });
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

/**
 * Puts every route whose method and URL are an endpoint of ENDPOINTS on the contract: the route gets the endpoint's
 * name in its config, the role check of an endpoint limited to roles (403 FORBIDDEN, in onRequest after the domain's
 * authentication, so a caller without the role learns nothing about the body's validity) and, unless it declares its own schema, the endpoint's request schemas (params, query, headers,
 * JSON body; not the response, which the handlers shape), validated as installContractValidation says. Strings
 * anywhere in the body, query or path parameters must not contain U+0000 (400 BAD_REQUEST: PostgreSQL cannot store
 * it and no field of the API needs it). A JSON body whose schema has no required field may be left out (it is then
 * `{}`). Call before the routes are registered (an onRoute hook of `app` and its children).
 */
export function applyContract(app: FastifyInstance): void {
  const byRoute = new Map<string, EndpointName>(
    (Object.entries(ENDPOINTS) as [EndpointName, Endpoint][]).map(([n, e]) => [`${e.method} ${e.path}`, n]),
  );
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    const name = methods.length === 1 ? byRoute.get(`${methods[0]} ${route.url}`) : undefined;
    if (!name) return;

    const e: Endpoint = ENDPOINTS[name];
    route.config = { ...(route.config ?? {}), endpoint: name } as typeof route.config;
    if (!route.schema) {
      route.schema = {
        ...(e.params ? { params: plain(e.params) } : {}),
        ...(e.query ? { querystring: plain(e.query) } : {}),
        ...(e.headers ? { headers: plain(e.headers) } : {}),
        ...(e.body && !e.upload ? { body: use(e.body) } : {}),
      };
    }
    const roles = Array.isArray(e.access) ? (e.access as readonly Role[]) : undefined;
    if (roles) {
      // After the domain's authentication hook (a plugin's hooks run before the route's), before the body is read.
      route.onRequest = [
        ...[route.onRequest ?? []].flat(),
        async (request: FastifyRequest) => {
          const a = request.actor;
          if (!a) throw new ServerError("UNAUTHENTICATED");
          if (!roles.includes(a.role)) {
            throw new ServerError("FORBIDDEN", `This needs the ${roles.join(" or ")} role; you are ${a.role}.`);
          }
        },
      ];
    }
    const optionalBody = e.body && !e.upload && !hasRequired(e.body);
    const hooks = [route.preValidation ?? []].flat();
    route.preValidation = [
      async (request: FastifyRequest) => {
        if (optionalBody && request.body === undefined) request.body = {};
        for (const [part, value] of [
          ["params", request.params],
          ["querystring", request.query],
          ["body", e.upload ? undefined : request.body],
        ] as const) {
          const at = nulAt(value, "");
          if (at !== undefined) {
            throw new ServerError(
              "BAD_REQUEST",
              `${PARTS[part]} is not valid: ${at ? `${at} ` : ""}must not contain the character U+0000.`,
            );
          }
        }
      },
      ...hooks,
    ];
  });
}

/** True when a (named or inline) object schema has required properties. */
function hasRequired(schema: unknown): boolean {
  const s = plain(schema) as { required?: unknown[]; $ref?: string };
  if (s.$ref) return hasRequired(NAMED_SCHEMAS.find((n) => (n as { $id?: string }).$id === s.$ref));
  return Array.isArray(s.required) && s.required.length > 0;
}

/**
 * The path ("" for the value itself, "a.b" for a field) of the first string holding U+0000 in a JSON value. Throws
 * BAD_REQUEST for a value nested more than 64 levels deep (no field of the API is).
 */
function nulAt(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value === null || typeof value !== "object") return undefined;
  if (depth >= 64)
    throw new ServerError("BAD_REQUEST", "The request is not valid: it is nested more than 64 levels deep.");
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulAt(value[i], `${path}[${i}]`, depth + 1);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  // Parsed JSON, query and params are plain records (some without a prototype); a streamed upload is not walked.
  if (ArrayBuffer.isView(value) || typeof (value as { pipe?: unknown }).pipe === "function") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes("\u0000")) return path ? `${path}.${k.replaceAll("\u0000", "")}` : k.replaceAll("\u0000", "");
    const at = nulAt(v, path ? `${path}.${k}` : k, depth + 1);
    if (at !== undefined) return at;
  }
  return undefined;
}

/** The error codes and their statuses, as the OpenAPI document lists them (x-error-codes). */
export function errorCodeTable(): Record<string, { status: number; message: string }> {
  return Object.fromEntries(API_ERROR_CODES.map((c) => [c, { ...ERROR_CATALOGUE[c] }]));
}

/** `{ $ref: "Name" }` (the contract's references) as OpenAPI's `#/components/schemas/Name`, everywhere in `v`. */
function componentRefs<T>(v: T): T {
  return JSON.parse(JSON.stringify(plain(v)), (k, x: unknown) =>
    k === "$ref" && typeof x === "string" && !x.startsWith("#") ? `#/components/schemas/${x.replace(/#$/, "")}` : x,
  ) as T;
}

/** The OpenAPI 3.1 operation of endpoint `name`, generated from ENDPOINTS (parameters, body, responses, errors). */
export function openApiOperationOf(name: EndpointName): Record<string, unknown> {
  const e: Endpoint = ENDPOINTS[name];
  const parameters: Record<string, unknown>[] = [];
  for (const [where, schema] of [
    ["path", e.params],
    ["query", e.query],
    ["header", e.headers],
  ] as const) {
    if (!schema) continue;
    const s = componentRefs(schema) as { properties?: Record<string, { description?: string }>; required?: string[] };
    for (const [p, ps] of Object.entries(s.properties ?? {})) {
      parameters.push({
        name: p,
        in: where,
        required: where === "path" || (s.required ?? []).includes(p),
        schema: ps,
        ...(ps.description ? { description: ps.description } : {}),
      });
    }
  }
  const json = (schema: unknown) => ({ "application/json": { schema: componentRefs(schema) } });
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(e.responses)) {
    const content =
      r.schema === Binary
        ? { "application/octet-stream": { schema: plain(Binary) } }
        : r.schema === NoContent
          ? undefined
          : json(r.schema);
    responses[status] = {
      description: r.description,
      ...(content ? { content } : {}),
      ...(r.headers
        ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, s]) => [h, { schema: plain(s) }])) }
        : {}),
    };
  }
  for (const [status, schema] of Object.entries(errorResponsesOf(e))) {
    responses[status] = {
      description: (schema as { description?: string }).description,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  return {
    operationId: name,
    summary: e.summary,
    ...(e.description ? { description: e.description } : {}),
    tags: [e.tag],
    ...(e.access === "public" ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(e.upload
      ? { requestBody: { required: true, content: { "application/octet-stream": { schema: plain(Binary) } } } }
      : e.body
        ? { requestBody: { required: hasRequired(e.body), content: json(e.body) } }
        : {}),
    responses,
  };
}

/**
 * Adds to an OpenAPI document every endpoint of ENDPOINTS that it does not describe yet (generated by
 * openApiOperationOf), with the named schemas they reference under components.schemas.
 */
export function addContractOperations(doc: {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
}): void {
  for (const name of Object.keys(ENDPOINTS) as EndpointName[]) {
    const e: Endpoint = ENDPOINTS[name];
    const path = e.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const method = e.method.toLowerCase();
    if (doc.paths[path]?.[method]) continue;
    doc.paths[path] = { ...(doc.paths[path] ?? {}), [method]: openApiOperationOf(name) };
  }
  for (const s of NAMED_SCHEMAS) {
    const { $id, ...rest } = componentRefs(s) as unknown as { $id: string };
    doc.components.schemas[$id] ??= rest;
  }
}

import swagger from "@fastify/swagger";
import { API_ERROR_CODES, Binary, ENDPOINTS, ERROR_CATALOGUE, type EndpointName } from "@sealpost/protocol";
import type { FastifyInstance } from "fastify";
import type { ContractConfig } from "./contract.js";

/** The OpenAPI document kept in the repository (server/openapi.json); a test checks that it is current. */
export const OPENAPI_PATH = new URL("../../openapi.json", import.meta.url);

const TAGS = [
  { name: "meta", description: "this document" },
  { name: "auth", description: "login by a signed challenge; bearer tokens" },
  { name: "registry", description: "agencies, staff, certificates, transfer categories" },
  { name: "cases", description: "transfer cases, notes and signed receipts (role staff)" },
  { name: "files", description: "sealed payload and result files, streamed" },
  { name: "drops", description: "scheduled SFTP pulls and pushes (role ops)" },
  { name: "ops", description: "audit trail, mail outbox, status and statistics (roles admin and ops)" },
];

/**
 * Registers @fastify/swagger: the OpenAPI 3.1 document is generated from the routes' schemas (which come from
 * ENDPOINTS), with the named schemas under components.schemas, the error catalogue in `x-error-codes` and the
 * description, and streamed request bodies (uploads) as application/octet-stream. Call before the routes.
 */
export async function installOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "sealpost relay server API",
        version,
        description: [
          "Transfer cases between agencies: registry, sealed payload and result files (CMS, streamed), receipts, audit.",
          "Generated from the endpoint table of @sealpost/protocol (ENDPOINTS); the typed client is @sealpost/client.",
          "Every error is {error:{code,message,hint?,details?}}. Error codes:",
          "",
          ...API_ERROR_CODES.map((c) => `- \`${c}\` (${ERROR_CATALOGUE[c].status}): ${ERROR_CATALOGUE[c].message}`),
        ].join("\n"),
      },
      tags: TAGS,
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "token from POST /v1/auth/login" } },
      },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
    transform: ({ schema, url, route }) => {
      const name = (route.config as Partial<ContractConfig> | undefined)?.endpoint;
      const e = name ? ENDPOINTS[name as EndpointName] : undefined;
      if (!e || !("upload" in e) || !e.upload || !schema) return { schema, url };
      return {
        schema: {
          ...schema,
          body: { content: { "application/octet-stream": { schema: JSON.parse(JSON.stringify(Binary)) } } },
        },
        url,
      };
    },
  });
}

/** The generated document with the error catalogue as `x-error-codes` (code: status and default message). */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  const doc = app.swagger() as unknown as Record<string, unknown>;
  return {
    ...doc,
    "x-error-codes": Object.fromEntries(API_ERROR_CODES.map((c) => [c, { ...ERROR_CATALOGUE[c] }])),
  };
}

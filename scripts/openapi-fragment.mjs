#!/usr/bin/env node
// Writes server/src/<module>/openapi.json: the OpenAPI paths and named schemas of the given endpoints of ENDPOINTS
// (@sealpost/protocol, built), in the form server/openapi.json uses. The server merges the fragment into the document
// it serves (server/src/http/app.ts); server/test/openapi.test.ts checks it against the registered routes.
// Usage: node scripts/openapi-fragment.mjs rosters getRoster putRoster ...   (run `npx tsc -b` first)
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ENDPOINTS, errorResponsesOf, NAMED_SCHEMAS } from "../packages/protocol/dist/index.js";

const [module, ...names] = process.argv.slice(2);
if (!module || names.length === 0) {
  console.error("usage: node scripts/openapi-fragment.mjs MODULE ENDPOINT...");
  process.exit(2);
}
const repo = resolve(import.meta.dirname, "..");

/** A plain JSON copy with `$ref: "X"` written as a components reference and string unions as enums. */
function plain(schema, used) {
  return JSON.parse(JSON.stringify(schema), (k, v) => {
    if (k === "$ref" && typeof v === "string") {
      const id = v.replace(/#$/, "");
      used.add(id);
      return `#/components/schemas/${id}`;
    }
    if (v && typeof v === "object" && !Array.isArray(v) && Array.isArray(v.anyOf) && v.anyOf.length > 0) {
      if (
        v.anyOf.every((m) => typeof m.const === "string" && Object.keys(m).every((x) => x === "type" || x === "const"))
      ) {
        const { anyOf, ...rest } = v;
        return { type: "string", enum: anyOf.map((m) => m.const), ...rest };
      }
    }
    return v;
  });
}
const json = (schema) => ({ "application/json": { schema } });

const used = new Set();
const paths = {};
for (const name of names) {
  const e = ENDPOINTS[name];
  if (!e) throw new Error(`no endpoint ${name}`);
  const path = e.path.replace(/:(\w+)/g, "{$1}");
  const op = { summary: e.summary };
  if (e.description) op.description = e.description;
  op.tags = [e.tag];
  op.operationId = name;
  if (e.access === "public") op.security = [];
  const parameters = [];
  for (const [where, s] of [
    ["path", e.params],
    ["query", e.query],
  ]) {
    for (const [p, ps] of Object.entries(s?.properties ?? {})) {
      parameters.push({
        in: where,
        name: p,
        required: where === "path" || (s.required ?? []).includes(p),
        schema: plain(ps, used),
      });
    }
  }
  if (parameters.length) op.parameters = parameters;
  if (e.body) op.requestBody = { required: true, content: json(plain(e.body, used)) };
  op.responses = {};
  for (const [status, r] of Object.entries(e.responses)) {
    op.responses[status] = { description: r.description, content: json(plain(r.schema, used)) };
  }
  for (const [status, s] of Object.entries(errorResponsesOf(e))) {
    op.responses[status] = { description: s.description, content: json({ $ref: "#/components/schemas/Error" }) };
  }
  paths[path] = { ...(paths[path] ?? {}), [e.method.toLowerCase()]: op };
}
const schemas = {};
const pending = [...used];
while (pending.length) {
  const id = pending.pop();
  if (schemas[id] || id === "Error") continue;
  const s = NAMED_SCHEMAS.find((x) => x.$id === id);
  if (!s) throw new Error(`no named schema ${id}`);
  const before = new Set(used);
  const { $id, ...rest } = plain(s, used);
  schemas[id] = rest;
  for (const u of used) if (!before.has(u)) pending.push(u);
}
const out = join(repo, "server/src", module, "openapi.json");
writeFileSync(out, `${JSON.stringify({ paths, components: { schemas } }, null, 2)}\n`);
console.log(`wrote ${out}: ${names.length} operations, ${Object.keys(schemas).length} schemas`);

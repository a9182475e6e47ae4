import { describe, expect, test } from "vitest";
import {
  API_ERROR_CODES,
  ENDPOINTS,
  type Endpoint,
  ERROR_CATALOGUE,
  errorCodesOf,
  errorResponsesOf,
  NAMED_SCHEMAS,
  pathOf,
} from "../src/index.js";

/** The endpoint table is consistent: paths, parameters, error codes and references. */

const entries = Object.entries(ENDPOINTS) as [string, Endpoint][];

/** Every `$ref` in a schema. */
function refsOf(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refsOf(x, out);
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") out.push(x);
      else refsOf(x, out);
    }
  }
  return out;
}

describe("ENDPOINTS", () => {
  test("one endpoint per method and path", () => {
    const keys = entries.map(([, e]) => `${e.method} ${e.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test.each(entries)("%s: its path parameters are exactly its params schema's properties", (_name, e) => {
    const inPath = [...e.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]).sort();
    const declared = Object.keys(e.params?.properties ?? {}).sort();
    expect(declared).toEqual(inPath);
  });

  test.each(entries)("%s: its error codes come from the catalogue, with their statuses", (_name, e) => {
    for (const c of errorCodesOf(e)) expect(API_ERROR_CODES).toContain(c);
    const byStatus = errorResponsesOf(e);
    for (const c of errorCodesOf(e)) {
      const status = ERROR_CATALOGUE[c].status;
      expect(String((byStatus[status] as { description?: string }).description).split(", ")).toContain(c);
    }
    // A success status is never also an error status.
    for (const s of Object.keys(e.responses)) expect(byStatus[Number(s)]).toBeUndefined();
  });

  test("a non-public endpoint that changes state or downloads a file can answer FORBIDDEN (console CSRF)", () => {
    expect(errorCodesOf(ENDPOINTS.logout)).toContain("FORBIDDEN");
    expect(errorCodesOf(ENDPOINTS.consoleLogout)).toContain("FORBIDDEN");
    expect(errorCodesOf(ENDPOINTS.consoleApprove)).toContain("FORBIDDEN");
    expect(errorCodesOf(ENDPOINTS.whoami)).not.toContain("FORBIDDEN");
    expect(errorCodesOf(ENDPOINTS.login)).not.toContain("FORBIDDEN");
  });

  test("every catalogue code is answered by some endpoint (or by every one: INTERNAL, BAD_REQUEST ...)", () => {
    const used = new Set(entries.flatMap(([, e]) => errorCodesOf(e)));
    expect(API_ERROR_CODES.filter((c) => !used.has(c))).toEqual([]);
  });

  test("every $ref names a schema of NAMED_SCHEMAS, and those have unique ids", () => {
    const ids = NAMED_SCHEMAS.map((s) => (s as { $id?: string }).$id);
    expect(new Set(ids).size).toBe(ids.length);
    const refs = new Set([
      ...entries.flatMap(([, e]) => refsOf(JSON.parse(JSON.stringify(e)))),
      ...refsOf(JSON.parse(JSON.stringify(NAMED_SCHEMAS))),
    ]);
    expect([...refs].filter((r) => !ids.includes(r))).toEqual([]);
  });

  test("pathOf substitutes and encodes parameters, and refuses a missing one", () => {
    expect(pathOf(ENDPOINTS.getCase, { id: "C1/../x" })).toBe("/v1/cases/C1%2F..%2Fx");
    expect(() => pathOf(ENDPOINTS.getCase, {})).toThrow(/id is missing/);
  });
});

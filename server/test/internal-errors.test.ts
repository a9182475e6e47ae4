import Fastify from "fastify";
import { describe, expect, test } from "vitest";
import { installErrorHandling } from "../src/http/errors.js";
import type { Logger } from "../src/log.js";

/**
 * An unexpected error answers 500 INTERNAL without details, and is recorded by the server's logger (Fastify's own
 * logger is off in the server): failures are visible to operators, never silent, and never carry the request's
 * headers (bearer token) or body.
 */
describe("internal errors", () => {
  test("are logged with method and route, without the Authorization header or the body", async () => {
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = {
      info: () => {},
      warn: () => {},
      error: (msg, fields) => lines.push({ msg, ...(fields ? { fields } : {}) }),
    };
    const app = Fastify({ logger: false });
    installErrorHandling(app, log);
    app.post("/v1/boom/:id", async () => {
      throw new TypeError("database handle went away");
    });
    const r = await app.inject({
      method: "POST",
      url: "/v1/boom/42?x=1",
      headers: { authorization: "Bearer SECRET-TOKEN-abcdefghijklmnop", "content-type": "application/json" },
      payload: JSON.stringify({ pin: "PIN-9999" }),
    });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: { code: "INTERNAL", message: expect.any(String) } });
    expect(r.body).not.toContain("database handle");
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe("internal error");
    expect(lines[0]!.fields).toMatchObject({ method: "POST", route: "/v1/boom/:id" });
    expect(String(lines[0]!.fields?.error)).toContain("database handle went away");
    const all = JSON.stringify(lines);
    expect(all).not.toContain("SECRET-TOKEN");
    expect(all).not.toContain("PIN-9999");
    await app.close();
  });
});

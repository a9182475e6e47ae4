import { afterAll, beforeAll, expect, test } from "vitest";
import { closeContext, createContext } from "../src/app.js";
import { ManualClock } from "../src/clock.js";
import { sessionCookie } from "../src/console/cookie.js";
import type { ServerContext } from "../src/context.js";
import { buildApp } from "../src/http/app.js";
import { silentLogger } from "../src/log.js";
import { Api, freshDataDir, registerFixtures } from "./helpers.js";

/**
 * The web console's login by one-time code over a real socket, on the test's database, with a pinned clock: the
 * code's single use and lifetime, the session cookie, CSRF on state changes, the idle timeout and logout.
 */

const IDLE = 600;
let data: Awaited<ReturnType<typeof freshDataDir>>;
let ctx: ServerContext;
let app: Awaited<ReturnType<typeof buildApp>>;
let url: string;
const clock = new ManualClock(new Date());
let staff: Api;

beforeAll(async () => {
  data = await freshDataDir();
  ctx = await createContext(data.dir, { log: silentLogger, clock, config: { consoleIdleSeconds: IDLE } });
  app = await buildApp(ctx);
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  const admin = new Api(url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  staff = new Api(url);
  await staff.login("soc-chen");
});
afterAll(async () => {
  await app?.close();
  if (ctx) await closeContext(ctx);
  await data?.cleanup();
});

const anon = () => new Api(url);

/** A new code, approved by soc-chen; returns the session cookie and CSRF token the poll gave. */
async function session(): Promise<{ cookie: string; csrf: string }> {
  const code = await anon().call("POST", "/v1/console/codes");
  expect(code.status).toBe(200);
  expect(code.headers.get("cache-control")).toBe("no-store");
  const pending = await anon().call("POST", "/v1/console/session", { pollToken: code.body.pollToken });
  expect(pending.body).toEqual({ state: "pending" });
  expect(pending.headers.get("set-cookie")).toBeNull();
  // Case and dash do not matter to the approval.
  const approved = await staff.call("POST", "/v1/console/approve", { code: code.body.code.toLowerCase() });
  expect(approved.status).toBe(204);
  const s = await anon().call("POST", "/v1/console/session", { pollToken: code.body.pollToken });
  expect(s.status).toBe(200);
  expect(s.body).toMatchObject({ state: "active", actor: { role: "staff" }, idleSeconds: IDLE });
  const set = s.headers.get("set-cookie")!;
  expect(set).toMatch(/^sealpost=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  // Single use: the poll token is spent.
  expect((await anon().call("POST", "/v1/console/session", { pollToken: code.body.pollToken })).status).toBe(404);
  return { cookie: set.split(";")[0]!, csrf: s.body.csrf };
}

test("a code is approved once, the poll takes the session once; the cookie authenticates", async () => {
  const { cookie, csrf } = await session();
  const who = await anon().call("GET", "/v1/console/session", undefined, { cookie });
  expect(who.status).toBe(200);
  expect(who.body.actor.role).toBe("staff");
  expect(who.body.csrf).toBe(csrf);
  expect((await anon().call("GET", "/v1/cases", undefined, { cookie })).status).toBe(200);
  const code = await anon().call("POST", "/v1/console/codes");
  expect((await staff.call("POST", "/v1/console/approve", { code: code.body.code })).status).toBe(204);
  const again = await staff.call("POST", "/v1/console/approve", { code: code.body.code });
  expect(again.status).toBe(404);
  expect(again.body.error.code).toBe("NOT_FOUND");
  expect((await staff.call("POST", "/v1/console/approve", { code: "ZZZZ-ZZZZ" })).status).toBe(404);
  // Approval needs a login.
  expect((await anon().call("POST", "/v1/console/approve", { code: code.body.code })).status).toBe(401);
});

test("a code expires after 5 minutes: neither approved nor polled", async () => {
  const code = await anon().call("POST", "/v1/console/codes");
  clock.advance(5 * 60 * 1000 + 1000);
  expect((await staff.call("POST", "/v1/console/approve", { code: code.body.code })).status).toBe(404);
  expect((await anon().call("POST", "/v1/console/session", { pollToken: code.body.pollToken })).status).toBe(404);
});

test("every state change with the cookie needs the CSRF token (file downloads too); other GETs do not", async () => {
  const { cookie, csrf } = await session();
  const none = await anon().call("POST", "/v1/console/logout", undefined, { cookie });
  expect(none.status).toBe(403);
  expect(none.body.error).toMatchObject({ code: "FORBIDDEN", details: { reason: "CSRF" } });
  const wrong = await anon().call("POST", "/v1/console/logout", undefined, { cookie, "x-sealpost-csrf": `${csrf}x` });
  expect(wrong.status).toBe(403);
  // Refused before the body is read, on any route of any domain.
  const note = await anon().call("POST", "/v1/cases/C1/notes", { text: "x" }, { cookie });
  expect(note.status).toBe(403);
  // A file download is recorded: it needs the token too, as the header or (a download the browser streams to
  // disk by navigation) as the csrf query parameter; a wrong one is refused either way.
  const get = await anon().call("GET", "/v1/cases/C1/payload", undefined, { cookie });
  expect(get.status).toBe(403);
  expect(get.body.error.details).toEqual({ reason: "CSRF" });
  const badQuery = await anon().call("GET", `/v1/cases/C1/payload?csrf=${csrf}x`, undefined, { cookie });
  expect(badQuery.status).toBe(403);
  expect(badQuery.body.error.details).toEqual({ reason: "CSRF" });
  // With the right token the request passes the session check (this case does not exist: 404, not 403).
  const goodQuery = await anon().call("GET", `/v1/cases/C1/payload?csrf=${encodeURIComponent(csrf)}`, undefined, {
    cookie,
  });
  expect(goodQuery.status).toBe(404);
  // Only downloads take it from the query: a state change elsewhere still needs the header.
  const noteQuery = await anon().call(
    "POST",
    `/v1/cases/C1/notes?csrf=${encodeURIComponent(csrf)}`,
    { text: "x" },
    {
      cookie,
    },
  );
  expect(noteQuery.status).toBe(403);
  expect((await anon().call("GET", "/v1/console/session", undefined, { cookie })).status).toBe(200);
  const out = await anon().call("POST", "/v1/console/logout", undefined, { cookie, "x-sealpost-csrf": csrf });
  expect(out.status).toBe(204);
  expect(out.headers.get("set-cookie")).toMatch(/^sealpost=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
  // Ended on the server: the cookie no longer works.
  expect((await anon().call("GET", "/v1/console/session", undefined, { cookie })).status).toBe(401);
});

test("a session unused for the idle timeout ends (its token too); use keeps it alive", async () => {
  const { cookie } = await session();
  clock.advance((IDLE - 60) * 1000);
  expect((await anon().call("GET", "/v1/console/session", undefined, { cookie })).status).toBe(200);
  clock.advance((IDLE - 60) * 1000);
  expect((await anon().call("GET", "/v1/console/session", undefined, { cookie })).status).toBe(200);
  clock.advance((IDLE + 1) * 1000);
  expect((await anon().call("GET", "/v1/console/session", undefined, { cookie })).status).toBe(401);
  const left = await ctx.db.read((uow) => uow.sql.q.selectFrom("tokens").select("hash").execute());
  const hash = (await import("node:crypto")).createHash("sha256").update(cookie.split("=")[1]!).digest("hex");
  expect(left.map((r) => r.hash)).not.toContain(hash);
});

test("under TLS the cookie is __Host- prefixed and Secure", () => {
  expect(sessionCookie("t".repeat(43), true, 60)).toBe(
    `__Host-sealpost=${"t".repeat(43)}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure`,
  );
});

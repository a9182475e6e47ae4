import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { clearSession, loadSession, type Session, saveSession, sessionPath } from "../src/remote/session.js";

/**
 * The session file holds the bearer token. It lives beside SEALPOST_CONFIG, which may be a folder others can write
 * to: a link or a world-readable file already at `session.json` must not receive the token.
 */
const work = mkdtempSync(join(tmpdir(), "sealpost-session-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const session: Session = {
  server: "https://sealpost.example.gov.tw",
  token: "tok-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  staff: { id: "s1", name: "王建民", email: "wang@tax.khh.example", agency: "KHH-TAX", role: "staff", active: true },
  certSha256: "a".repeat(64),
};

describe("saveSession", () => {
  test("a link planted at session.json is replaced, its target never gets the token", async () => {
    const dir = join(work, "shared");
    const env = { SEALPOST_CONFIG: join(dir, "config.json") };
    const trap = join(work, "trap.txt");
    await saveSession(session, env); // creates the folder
    rmSync(join(dir, "session.json"));
    writeFileSync(trap, "", { mode: 0o666 });
    symlinkSync(trap, join(dir, "session.json"));
    await saveSession(session, env).catch(() => {});
    expect(readFileSync(trap, "utf8")).toBe("");
    const st = lstatSync(join(dir, "session.json"));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await loadSession(env)).token).toBe(session.token);
  });

  test("an existing world-readable session.json is replaced by a 0600 file", async () => {
    const dir = join(work, "old");
    const env = { SEALPOST_CONFIG: join(dir, "config.json") };
    await saveSession(session, env);
    const p = join(dir, "session.json");
    rmSync(p);
    writeFileSync(p, "{}", { mode: 0o644 });
    await saveSession(session, env);
    expect(lstatSync(p).mode & 0o777).toBe(0o600);
  });
});

describe("logins per config file and per server", () => {
  const other = { ...session, server: "https://other.example.gov.tw", token: "tok-OTHER" };

  test("each config file has its own session file beside it", () => {
    const dir = join(work, "per-config");
    expect(sessionPath({}, join(dir, "config.json"))).toBe(join(dir, "session.json"));
    expect(sessionPath({}, join(dir, "alice.json"))).toBe(join(dir, "alice.session.json"));
    expect(sessionPath({ SEALPOST_CONFIG: join(dir, "bob.json") })).toBe(join(dir, "bob.session.json"));
    expect(sessionPath({ XDG_CONFIG_HOME: join(dir, "xdg") })).toBe(join(dir, "xdg", "sealpost", "session.json"));
  });

  test("two config files in one folder never share a login", async () => {
    const dir = join(work, "two");
    const alice = join(dir, "alice.json");
    const bob = join(dir, "bob.json");
    await saveSession(session, {}, alice);
    await expect(loadSession({}, bob, session.server)).rejects.toMatchObject({ code: "NOT_LOGGED_IN", exitCode: 11 });
    expect((await loadSession({}, alice, session.server)).token).toBe(session.token);
  });

  test("one login per server; a config naming another server is an error naming both", async () => {
    const config = join(work, "servers", "config.json");
    await saveSession(session, {}, config);
    const err = await loadSession({}, config, "https://other.example.gov.tw/").catch((e) => e);
    expect(err).toMatchObject({ code: "SESSION_SERVER_MISMATCH", exitCode: 11 });
    expect(err.message).toContain("names the server https://other.example.gov.tw");
    expect(err.message).toContain(`your login is for ${session.server}`);
    expect(err.message).toContain(config);
    await saveSession(other, {}, config);
    expect((await loadSession({}, config, "https://other.example.gov.tw")).token).toBe("tok-OTHER");
    expect((await loadSession({}, config, `${session.server}/`)).token).toBe(session.token);
    // Without a server in the config, two logins are ambiguous; one is not.
    await expect(loadSession({}, config)).rejects.toMatchObject({ code: "USAGE", exitCode: 2 });
    await clearSession({}, config, other.server);
    expect((await loadSession({}, config)).server).toBe(session.server);
  });

  test("an expired login is NOT_LOGGED_IN, unless asked for (logout); a session.json of one login still reads", async () => {
    const config = join(work, "expired", "config.json");
    await saveSession({ ...session, expiresAt: new Date(Date.now() - 1000).toISOString() }, {}, config);
    await expect(loadSession({}, config, session.server)).rejects.toMatchObject({ code: "NOT_LOGGED_IN" });
    expect((await loadSession({}, config, session.server, { allowExpired: true })).token).toBe(session.token);
    writeFileSync(sessionPath({}, config), JSON.stringify(session), { mode: 0o600 });
    expect((await loadSession({}, config, session.server)).token).toBe(session.token);
  });
});

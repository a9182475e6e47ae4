import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadSession, type Session, saveSession } from "../src/remote/session.js";

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

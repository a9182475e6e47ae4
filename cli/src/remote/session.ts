import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { StaffDto } from "@sealpost/protocol";
import { RemoteError } from "./errors.js";

/** What `sealpost login` keeps: the server, the bearer token and who it belongs to. */
export interface Session {
  server: string;
  token: string;
  expiresAt: string;
  staff: StaffDto;
  certSha256: string;
}

/**
 * Where the session lives: `session.json` beside $SEALPOST_CONFIG when that is set, else
 * `$XDG_CONFIG_HOME/sealpost/session.json` (default ~/.config/sealpost/session.json). Written with mode 0600.
 */
export function sessionPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SEALPOST_CONFIG) return join(dirname(resolve(env.SEALPOST_CONFIG)), "session.json");
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "sealpost", "session.json");
}

/**
 * Writes the session: a new file (created exclusively, mode 0600) renamed over session.json, so the token is never
 * written into an existing file or through a link someone put in its place, nor readable for a moment by others.
 */
export async function saveSession(s: Session, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const p = sessionPath(env);
  await mkdir(dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return p;
}

/** The saved session; NOT_LOGGED_IN (exit 11) when there is none or it has expired. */
export async function loadSession(env: NodeJS.ProcessEnv = process.env): Promise<Session> {
  let s: Session;
  try {
    s = JSON.parse(await readFile(sessionPath(env), "utf8")) as Session;
  } catch {
    throw new RemoteError("NOT_LOGGED_IN", "You are not logged in to a sealpost server.", {
      hint: "Run: sealpost login --server URL --key KEYSTORE",
    });
  }
  if (!s.token || !s.server || Date.parse(s.expiresAt) <= Date.now()) {
    throw new RemoteError("NOT_LOGGED_IN", "Your sealpost session has expired.", {
      hint: "Run: sealpost login --server URL --key KEYSTORE",
    });
  }
  return s;
}

export async function clearSession(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await rm(sessionPath(env), { force: true });
}

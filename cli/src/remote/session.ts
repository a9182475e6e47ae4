import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { apiBase } from "@sealpost/client";
import { EXIT_CODES, type StaffDto } from "@sealpost/protocol";
import { defaultConfigPath } from "../config.js";
import { RemoteError } from "./errors.js";

/** What `sealpost login` keeps for one server: the server, the bearer token and who it belongs to. */
export interface Session {
  server: string;
  token: string;
  expiresAt: string;
  staff: StaffDto;
  certSha256: string;
}

/** The session file: one login per server URL (API base), for the config file it sits beside. */
interface SessionFile {
  logins: Record<string, Session>;
}

/**
 * Where the logins made with a config file are kept: beside the config file, `session.json` for a config named
 * `config.json`, else `<name>.session.json` (alice.json: alice.session.json). The config file is `configPath`
 * (from --config), else $SEALPOST_CONFIG, else `$XDG_CONFIG_HOME/sealpost/config.json` (default
 * ~/.config/sealpost/config.json), whether or not it exists. So two config files never share a login, and within
 * one file each server URL has its own. Written with mode 0600.
 */
export function sessionPath(env: NodeJS.ProcessEnv = process.env, configPath?: string): string {
  const config = configPath ?? defaultConfigPath(env).path;
  const name = basename(config);
  return join(
    dirname(config),
    name === "config.json" ? "session.json" : `${name.replace(/\.json$/i, "")}.session.json`,
  );
}

/** The server URL as logins are keyed: its API base (origin and path prefix, no trailing slash). */
export function serverKey(server: string): string {
  try {
    return apiBase(server);
  } catch {
    return server.replace(/\/+$/, "");
  }
}

async function readSessions(path: string): Promise<SessionFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return { logins: {} };
  }
  if (!parsed || typeof parsed !== "object") return { logins: {} };
  const p = parsed as Partial<SessionFile> & Partial<Session>;
  // One login at the top level: the format before logins were kept per server.
  if (typeof p.token === "string" && typeof p.server === "string")
    return { logins: { [serverKey(p.server)]: p as Session } };
  return { logins: p.logins && typeof p.logins === "object" ? { ...p.logins } : {} };
}

/**
 * Writes the session file: a new file (created exclusively, mode 0600) renamed over it, so the token is never
 * written into an existing file or through a link someone put in its place, nor readable for a moment by others.
 */
async function writeSessions(path: string, file: SessionFile): Promise<void> {
  if (Object.keys(file.logins).length === 0) {
    await rm(path, { force: true });
    return;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

const loginHint = (server?: string) =>
  `Run: sealpost login${server ? ` --server ${server}` : " --server URL"} --key KEYSTORE`;

/** Saves the login `s` for its server (replacing an earlier one for the same server); returns the file's path. */
export async function saveSession(
  s: Session,
  env: NodeJS.ProcessEnv = process.env,
  configPath?: string,
): Promise<string> {
  const p = sessionPath(env, configPath);
  const file = await readSessions(p);
  file.logins[serverKey(s.server)] = s;
  await writeSessions(p, file);
  return p;
}

/**
 * The login to use with this config: the one for `server` (the config's "server") when given, else the only one kept.
 * NOT_LOGGED_IN (exit 11) when there is none or it has expired; SESSION_SERVER_MISMATCH (exit 11) when the config
 * names a server but the logins kept are for others (the message names both); a usage error when the config names
 * no server and logins for several are kept. With `allowExpired`, an expired login is returned too (for logout).
 */
export async function loadSession(
  env: NodeJS.ProcessEnv = process.env,
  configPath?: string,
  server?: string,
  options: { allowExpired?: boolean } = {},
): Promise<Session> {
  const path = sessionPath(env, configPath);
  const { logins } = await readSessions(path);
  const servers = Object.keys(logins);
  let s: Session | undefined;
  if (server !== undefined) {
    s = logins[serverKey(server)];
    if (!s && servers.length > 0) {
      const config = configPath ?? defaultConfigPath(env).path;
      throw new RemoteError(
        "SESSION_SERVER_MISMATCH",
        `The config file ${config} names the server ${serverKey(server)}, but your login is for ${servers.join(", ")}.`,
        {
          exitCode: EXIT_CODES.NOT_AUTHORIZED,
          hint: `Log in to ${serverKey(server)} (${loginHint()}), or set "server" in ${config} to ${servers[0]}.`,
          details: { configServer: serverKey(server), loginServers: servers, sessionFile: path },
        },
      );
    }
  } else if (servers.length > 1) {
    throw new RemoteError("USAGE", `You are logged in to several servers (${servers.join(", ")}): which one?`, {
      exitCode: EXIT_CODES.USAGE,
      hint: `Set "server" in the config file (${configPath ?? defaultConfigPath(env).path}) to one of them.`,
    });
  } else {
    s = servers[0] !== undefined ? logins[servers[0]] : undefined;
  }
  if (!s || typeof s.token !== "string" || typeof s.server !== "string") {
    throw new RemoteError("NOT_LOGGED_IN", "You are not logged in to a sealpost server.", {
      hint: loginHint(server),
    });
  }
  if (!options.allowExpired && !(Date.parse(s.expiresAt) > Date.now())) {
    throw new RemoteError("NOT_LOGGED_IN", `Your login to ${s.server} has expired.`, { hint: loginHint(s.server) });
  }
  return s;
}

/** Forgets the login for `server` (every login of this config file when undefined). */
export async function clearSession(
  env: NodeJS.ProcessEnv = process.env,
  configPath?: string,
  server?: string,
): Promise<void> {
  const p = sessionPath(env, configPath);
  if (server === undefined) {
    await rm(p, { force: true });
    return;
  }
  const file = await readSessions(p);
  delete file.logins[serverKey(server)];
  await writeSessions(p, file);
}

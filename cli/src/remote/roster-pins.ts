import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CliError } from "../errors.js";
import { sessionPath } from "./session.js";

/**
 * What this CLI remembers about each agency's roster, per relay server (like SSH's known_hosts): the officer keys
 * (SHA-256 of their signing certificates) it accepts for the agency, and the highest roster version it has seen with
 * the SHA-256 of that version's content. Pinned on first use; changed only by `sealpost roster trust`.
 */
export interface AgencyPin {
  /** Accepted officer keys: SHA-256 (lower-case hex) of the officers' signing certificates. */
  officers: string[];
  /** The highest roster version seen (0 before any). */
  version: number;
  /** SHA-256 of the content of `version`, so a different roster under the same version is caught. */
  contentSha256: string | null;
  pinnedAt: string;
}

/** The pins file: agencies by server URL, then by agency code. */
export interface RosterPins {
  servers: Record<string, Record<string, AgencyPin>>;
}

/**
 * Where the pins live: `rosters.json` beside the session file (beside $SEALPOST_CONFIG when that is set, else
 * `$XDG_CONFIG_HOME/sealpost/`, default ~/.config/sealpost/). Written with mode 0600 through a new file renamed into
 * place.
 */
export function rosterPinsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(sessionPath(env)), "rosters.json");
}

/** The pins file; empty when there is none. A file that is not the expected JSON is a CONFIG error (exit 2). */
export async function loadRosterPins(env: NodeJS.ProcessEnv = process.env): Promise<RosterPins> {
  const p = rosterPinsPath(env);
  let text: string;
  try {
    text = await readFile(p, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { servers: {} };
    throw new CliError("IO", `Cannot read the roster pins ${p}.`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as RosterPins;
    if (!v || typeof v.servers !== "object" || v.servers === null) throw new Error("no servers");
    return v;
  } catch (e) {
    throw new CliError("CONFIG", `The roster pins file ${p} is not valid.`, {
      cause: e,
      hint: "Restore it from a backup, or remove it to pin every agency's officers again on first use.",
    });
  }
}

/** Writes the pins (a new 0600 file renamed over the old one). */
export async function saveRosterPins(pins: RosterPins, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const p = rosterPinsPath(env);
  await mkdir(dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return p;
}

/** The pin of `agency` at `server`, if any. */
export function pinOf(pins: RosterPins, server: string, agency: string): AgencyPin | undefined {
  return pins.servers[server]?.[agency];
}

/** Sets the pin of `agency` at `server`. */
export function setPin(pins: RosterPins, server: string, agency: string, pin: AgencyPin): void {
  pins.servers[server] ??= {};
  pins.servers[server][agency] = pin;
}

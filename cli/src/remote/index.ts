import { resolve } from "node:path";
import type { Command } from "commander";
import { registerAdminCommands } from "./admin.js";
import { registerAuditCommands } from "./audit.js";
import { registerCaseCommands } from "./cases.js";
import { RemoteClient } from "./client.js";
import { registerDropCommands } from "./drops.js";
import { registerRosterCommands } from "./roster-commands.js";
import { loadConfig } from "../config.js";
import { configPathOf } from "./runtime.js";
import { loadSession } from "./session.js";

export { makeReceipt, RemoteClient, signStatement } from "./client.js";
export { RemoteError } from "./errors.js";
export { clearSession, loadSession, type Session, saveSession, serverKey, sessionPath } from "./session.js";

/** An authenticated client from the saved session (for command modules such as drops.ts). */
export type ClientFactory = () => Promise<RemoteClient>;
/** The --config of the command being run (set before each action), for the client factory. */
let currentConfig: string | undefined;
let currentCa: string | undefined;
const clientFactory: ClientFactory = async () => {
  const env = process.env;
  const config = await loadConfig(currentConfig, env);
  const s = await loadSession(env, configPathOf(currentConfig, env), config.server);
  return new RemoteClient(s.server, s.token, { ca: currentCa ? resolve(currentCa) : config.ca });
};

/**
 * Registers the `sealpost` commands that talk to the relay server: login, logout, send, cases, case show, receive,
 * note, reply, result, cancel, receipt, admin ..., roster ..., drop ... and audit check|verify-export. Called once by
 * main.ts.
 */
export function registerRemoteCommands(program: Command): void {
  program.hook("preAction", (_program, command) => {
    ({ config: currentConfig, ca: currentCa } = command.optsWithGlobals<{ config?: string; ca?: string }>());
  });
  registerCaseCommands(program);
  registerAdminCommands(program);
  registerRosterCommands(program);
  registerDropCommands(program, clientFactory);
  registerAuditCommands(program);
}

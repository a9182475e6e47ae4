import type { Command } from "commander";
import { registerAdminCommands } from "./admin.js";
import { registerAuditCommands } from "./audit.js";
import { registerCaseCommands } from "./cases.js";
import { RemoteClient } from "./client.js";
import { registerDropCommands } from "./drops.js";
import { registerRosterCommands } from "./roster-commands.js";
import { loadSession } from "./session.js";

export { makeReceipt, RemoteClient, signStatement } from "./client.js";
export { RemoteError } from "./errors.js";
export { clearSession, loadSession, type Session, saveSession, sessionPath } from "./session.js";

/** An authenticated client from the saved session (for command modules such as drops.ts). */
export type ClientFactory = () => Promise<RemoteClient>;
const clientFactory: ClientFactory = async () => {
  const s = await loadSession();
  return new RemoteClient(s.server, s.token);
};

/**
 * Registers the `sealpost` commands that talk to the relay server: login, logout, send, cases, case show, receive,
 * note, reply, result, cancel, receipt, admin ..., roster ..., drop ... and audit check|verify-export. Called once by
 * main.ts.
 */
export function registerRemoteCommands(program: Command): void {
  registerCaseCommands(program);
  registerAdminCommands(program);
  registerRosterCommands(program);
  registerDropCommands(program, clientFactory);
  registerAuditCommands(program);
}

import type { Command } from "commander";
import { registerAdminCommands } from "./admin.js";
import { registerCaseCommands } from "./cases.js";
import { RemoteClient } from "./client.js";
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

// The `sealpost drop ...` commands (drops helper) are registered when cli/src/remote/drops.ts exists. A module that
// exists but fails to load is reported on stderr; the other commands still work.
const dropsModule = "./drops.js";
const drops = (await import(dropsModule).catch((e: { code?: string; message?: string }) => {
  if (!(e?.code === "ERR_MODULE_NOT_FOUND" && e.message?.includes("remote/drops.js"))) {
    process.stderr.write(`sealpost: warning: the drop commands could not be loaded (${e?.message ?? e})\n`);
  }
  return undefined;
})) as { registerDropCommands?: (program: Command, factory: ClientFactory) => void } | undefined;

/**
 * Registers the `sealpost` commands that talk to the relay server: login, logout, send, cases, case show, receive,
 * note, reply, result, cancel, receipt, admin ..., and drop ... when present. Called once by main.ts.
 */
export function registerRemoteCommands(program: Command): void {
  registerCaseCommands(program);
  registerAdminCommands(program);
  drops?.registerDropCommands?.(program, clientFactory);
}

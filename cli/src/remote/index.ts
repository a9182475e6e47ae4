import type { Command } from "commander";

/**
 * Registers the `sealpost` commands that talk to the relay server (login, cases, upload, download, drop ...).
 * Placeholder created by the CLI helper so that main.ts can call it; the server-core helper owns this file and
 * replaces the body. Called once by main.ts after the local commands are registered.
 */
export function registerRemoteCommands(_program: Command): void {}

import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { registerCertCommands } from "./commands/cert.js";
import { registerInspectCommand } from "./commands/inspect.js";
import { registerOpenCommand } from "./commands/open.js";
import { registerSealCommand } from "./commands/seal.js";
import { registerSignCommand } from "./commands/sign.js";
import { registerTokenCommands } from "./commands/token.js";
import { registerVerifyCommand } from "./commands/verify.js";
import type { Runtime } from "./commands/common.js";
import { type CliConfig, loadConfig } from "./config.js";
import { CliError, usageError } from "./errors.js";
import { closeOpenedKeystores } from "./keys.js";
import { rootEpilog } from "./help.js";
import { runInterruptCleanups } from "./files.js";
import { Output } from "./output.js";
import { registerRemoteCommands } from "./remote/index.js";

/**
 * The `sealpost` program: global options (--json, --quiet, --config), the local commands, the remote commands,
 * and the one error handler that turns any failure into `sealpost: error: ...` plus an exit code
 * (packages/protocol/src/exit-codes.ts). Stack traces only for internal errors with SEALPOST_DEBUG=1.
 */

export interface RunIo {
  stdout?: NodeJS.WritableStream & import("node:stream").Writable;
  stderr?: NodeJS.WritableStream & import("node:stream").Writable;
}

/** Builds the commander program for a runtime. */
export function createProgram(rt: Runtime): Command {
  const program = new Command("sealpost");
  program
    .description("Seal (sign + encrypt) and open files for transfer between agencies (CMS, RFC 5652).")
    .version(version(), "-V, --version", "print the version")
    .option("--json", "print exactly one JSON object on stdout (for scripts)")
    .option("-q, --quiet", "no report and no progress bar (errors and warnings still go to stderr)")
    .option("--config <file>", "config file (default: $SEALPOST_CONFIG or ~/.config/sealpost/config.json)")
    .option(
      "--ca <file>",
      "CA certificate (PEM) trusted for the relay server's TLS certificate besides the system's, e.g. an internal CA (default: config \"ca\")",
    )
    .showHelpAfterError(false)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      // commander's own error line is replaced by ours (run() prints `sealpost: error: ...`)
      outputError: () => {},
      writeOut: (str) => rt.out.stdout.write(str),
      writeErr: (str) => rt.out.stderr.write(str),
    })
    .exitOverride()
    .addHelpText("after", rootEpilog());
  registerSealCommand(program, rt);
  registerOpenCommand(program, rt);
  registerInspectCommand(program, rt);
  registerSignCommand(program, rt);
  registerVerifyCommand(program, rt);
  registerCertCommands(program, rt);
  registerTokenCommands(program, rt);
  registerRemoteCommands(program);
  return program;
}

/**
 * Runs the CLI on `argv` (process.argv shape) and returns the exit code; never throws and never calls
 * process.exit itself.
 */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env, io: RunIo = {}): Promise<number> {
  const args = argv.slice(2);
  const before = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  const out = new Output({
    json: before.includes("--json"),
    quiet: before.includes("--quiet") || before.includes("-q"),
    ...(io.stdout ? { stdout: io.stdout } : {}),
    ...(io.stderr ? { stderr: io.stderr } : {}),
  });
  if (before.some((a) => a === "--pin" || a.startsWith("--pin="))) {
    return out.error(
      new CliError(
        "PIN_ON_COMMAND_LINE",
        "There is no --pin option: a PIN on the command line is visible to other users and stays in shell history.",
        {
          hint: "Set the SEALPOST_PIN environment variable, or pass --pin-file FILE (the PIN is its first line), or type it at the prompt.",
        },
      ),
      env,
    );
  }
  let config: Promise<CliConfig> | undefined;
  let program: Command;
  const rt: Runtime = {
    out,
    env,
    config: () => {
      config ??= loadConfig(program.opts<{ config?: string }>().config, env);
      return config;
    },
  };
  program = createProgram(rt);
  try {
    await program.parseAsync(argv);
    // A command may finish its report and still fail (e.g. some files did not verify): it sets process.exitCode.
    const pending = Number(process.exitCode ?? 0);
    return Number.isInteger(pending) && pending > 0 && pending <= 255 ? pending : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0;
      if (e.code === "commander.help") return out.error(usageError("No command given."), env);
      return out.error(
        usageError(
          e.message.replace(/^error: /, ""),
          "Run `sealpost --help` (or `sealpost <command> --help`) for usage.",
        ),
        env,
      );
    }
    return out.error(e, env);
  } finally {
    await closeOpenedKeystores();
  }
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Waits for stdout and stderr to flush, then exits. */
async function exitAfterFlush(code: number): Promise<never> {
  const flush = (s: NodeJS.WriteStream) =>
    new Promise<void>((r) => (s.writableLength === 0 ? r() : s.write("", () => r())));
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}

function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    const entry = realpathSync(argv1);
    return entry === fileURLToPath(import.meta.url) || /[\\/]bin[\\/]sealpost(\.js)?$/.test(entry);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Interrupted: remove this run's temporary files (nothing half-written stays), then exit 128 + signal number.
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.once(signal, () => {
      runInterruptCleanups();
      process.stderr.write(`\nsealpost: interrupted (${signal}); temporary files removed\n`);
      process.exit(code);
    });
  }
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    // The reader went away (e.g. `| head`): nothing more can be written; exit as an I/O error.
    if (e.code === "EPIPE") {
      runInterruptCleanups();
      process.exit(3);
    }
  });
  await exitAfterFlush(await run(process.argv));
}

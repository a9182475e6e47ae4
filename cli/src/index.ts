/**
 * @sealpost/cli as a library (the `sealpost` binary is bin/sealpost.js -> dist/main.js): run the CLI in process,
 * and the pieces other tools reuse (exit-code mapping, output, config).
 */
export { createProgram, type RunIo, run } from "./main.js";
export { exitCodeFor, exitCodeForCode, registerExitCodes } from "./exit.js";
export { CliError, type CliErrorCode } from "./errors.js";
export { Output, type OutputOptions } from "./output.js";
export { type CliConfig, CONFIG_FIELDS, loadConfig } from "./config.js";

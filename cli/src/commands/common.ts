import { type Command, InvalidArgumentError, Option } from "commander";
import type { CliConfig } from "../config.js";
import type { LoadKeysContext } from "../keys.js";
import type { Output } from "../output.js";

/** What every command's action receives besides its arguments: the output, environment and config loader. */
export interface Runtime {
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The config (loaded once, from --config, SEALPOST_CONFIG or the default path). */
  config(): Promise<CliConfig>;
}

/** Commander argParser for repeatable options. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Commander argParser for a positive integer. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw new InvalidArgumentError("expected a whole number");
  }
  return Number(value);
}

/** Commander argParser for an ISO 8601 time. */
export function isoTime(value: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError("expected an ISO 8601 time such as 2026-01-31T12:00:00Z");
  }
  return d;
}

/** --key, --cert, --pin-file. */
export function addKeyOptions(cmd: Command): Command {
  return cmd
    .option("-k, --key <file>", "your keystore: PKCS#12 (.p12/.pfx), or a PEM private key with --cert")
    .option("--cert <file>", "certificate (or bundle) of a PEM --key")
    .option(
      "--pin-file <file>",
      "read the keystore PIN from the first line of this file (else SEALPOST_PIN, else a prompt)",
    );
}

/** --trust, --intermediate, --crl, --revocation. */
export function addTrustOptions(cmd: Command): Command {
  return cmd
    .option("--trust <cert>", "trust anchor (root certificate file); repeatable; replaces the config's", collect)
    .option("--intermediate <cert>", "intermediate CA certificate file; repeatable", collect)
    .option("--crl <file>", "CRL file (DER or PEM); repeatable", collect)
    .addOption(
      new Option(
        "--revocation <mode>",
        "revocation checking: require (default: a current CRL for every certificate of the path), prefer (warn when none), off",
      ).choices(["require", "prefer", "off"]),
    );
}

/** -o/--output and --force. */
export function addOutputOptions(cmd: Command, what: string): Command {
  return cmd
    .option("-o, --output <file>", `${what} ("-" for stdout)`)
    .option("-f, --force", "overwrite an existing output file");
}

/** The LoadKeysContext for a runtime. */
export function keyContext(rt: Runtime, config: CliConfig): LoadKeysContext {
  return {
    config,
    env: rt.env,
    warn: (t) => rt.out.warn(t),
    notice: (t) => rt.out.stderr.write(`sealpost: ${t}\n`),
  };
}

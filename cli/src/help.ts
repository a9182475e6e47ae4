import { EXIT_CODE_DESCRIPTIONS } from "@sealpost/protocol";
import { CONFIG_FIELDS } from "./config.js";

/** The root command's help epilog: exit codes, config file fields, environment. Kept in step with cli/README.md. */
export function rootEpilog(): string {
  const codes = Object.entries(EXIT_CODE_DESCRIPTIONS)
    .map(([n, d]) => `  ${n.padStart(2)}  ${d}`)
    .join("\n");
  const width = Math.max(...CONFIG_FIELDS.map(([k]) => k.length));
  const fields = CONFIG_FIELDS.map(([k, t, d]) => `  ${k.padEnd(width)}  ${t}: ${d}`).join("\n");
  return `
Examples:
  sealpost seal batch.csv --to bob-enc.cert.pem --key alice.p12 --trust grca.cert.pem --case-id C-2026-001
  sealpost open batch.csv.p7m --key bob.p12 --trust grca.cert.pem --crl gca.crl --crl grca.crl
  sealpost inspect batch.csv.p7m
  sealpost cert check bob-enc.cert.pem --trust grca.cert.pem --crl gca.crl --crl grca.crl --usage encrypt

PIN: read from --pin-file FILE (first line), else the SEALPOST_PIN environment variable, else a prompt on the
terminal (nothing is echoed). There is no --pin option: command lines are visible to other users.

Output: a human report on stdout (stderr when -o - sends content to stdout); with --json exactly one JSON object
on stdout ({"ok":true,"command":...} or {"ok":false,"error":{"code","message","exitCode"}}). Errors and warnings go
to stderr as "sealpost: error: ..." and "sealpost: hint: ...". A progress bar is drawn on stderr for files over
8 MiB when stderr is a terminal (not with --quiet).

Config file: --config FILE, else $SEALPOST_CONFIG, else ~/.config/sealpost/config.json (JSON object; relative
paths are relative to the file; command-line options replace these defaults):
${fields}

Environment:
  SEALPOST_PIN     keystore PIN (see PIN above)
  SEALPOST_CONFIG  config file path
  SEALPOST_DEBUG   1: print a stack trace for internal errors (exit 1)

Exit codes:
${codes}
  130/143 (129)  interrupted by Ctrl-C / SIGTERM (SIGHUP): temporary files are removed, nothing is left half-written
`;
}

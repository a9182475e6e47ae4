import type { Writable } from "node:stream";
import { exitCodeFor } from "./exit.js";

/**
 * How a command reports: a human report (stdout, or stderr when stdout carries file content), or exactly one JSON
 * object on stdout with `--json`. Warnings and errors always go to stderr as `sealpost: warning: ...` and
 * `sealpost: error: ...` / `sealpost: hint: ...`; in JSON mode an error is also the JSON object on stdout.
 */
export interface OutputOptions {
  /** One JSON object on stdout instead of the human report. Default false. */
  json: boolean;
  /** No human report and no progress bar (warnings and errors still go to stderr). Default false. */
  quiet: boolean;
  stdout?: Writable;
  stderr?: Writable;
}

/** A JSON-able error object as printed in --json mode. */
export interface JsonError {
  ok: false;
  error: { code: string; message: string; exitCode: number; hint?: string; details?: Record<string, unknown> };
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** True once a command writes file content to stdout: the human report then goes to stderr. */
  private stdoutIsData = false;
  private readonly warnings: string[] = [];
  private resultWritten = false;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
  }

  /** Marks stdout as carrying file content (`-o -`): human report lines move to stderr. */
  useStdoutForData(): void {
    this.stdoutIsData = true;
  }

  /** One line of the human report (nothing in --json or --quiet mode). */
  line(text = ""): void {
    if (this.json || this.quiet) return;
    (this.stdoutIsData ? this.stderr : this.stdout).write(`${terminalSafe(oneLine(text))}\n`);
  }

  /** Aligned "label: value" lines of the human report; undefined values are left out. */
  fields(rows: Array<[string, string | number | undefined]>, indent = ""): void {
    const shown = rows.filter((r): r is [string, string | number] => r[1] !== undefined && r[1] !== "");
    const width = Math.max(0, ...shown.map(([k]) => k.length)) + 1;
    for (const [k, v] of shown) this.line(`${indent}${`${k}:`.padEnd(width)} ${oneLine(String(v))}`);
  }

  /** A warning on stderr (always, even with --quiet or --json), also collected for the JSON result. */
  warn(text: string): void {
    this.warnings.push(text);
    this.stderr.write(`sealpost: warning: ${terminalSafe(oneLine(text))}\n`);
  }

  /** The warnings printed so far. */
  collectedWarnings(): string[] {
    return [...this.warnings];
  }

  /**
   * The command's result: in --json mode `{"ok":true,"command":...,...result,"warnings":[...]}` on stdout (the
   * command's own `warnings` are merged with those printed through warn()). Nothing in human mode (the command
   * printed its report with line()).
   */
  result(command: string, result: Record<string, unknown>): void {
    if (!this.json || this.resultWritten) return;
    this.resultWritten = true;
    const own = Array.isArray(result.warnings) ? (result.warnings as string[]) : [];
    const warnings = [...new Set([...this.warnings, ...own])];
    this.stdout.write(`${jsonSafe(JSON.stringify({ ok: true, command, ...result, warnings }, jsonReplacer))}\n`);
  }

  /**
   * Prints an error: `sealpost: error: <message> [<CODE>]` and `sealpost: hint: ...` on stderr, and in --json mode
   * the JSON error object on stdout. Returns the exit code. Stack traces only for internal errors (exit 1) when
   * SEALPOST_DEBUG=1.
   */
  error(err: unknown, env: NodeJS.ProcessEnv = process.env): number {
    const exitCode = exitCodeFor(err);
    const { code, message, hint, details } = describe(err, exitCode);
    this.stderr.write(`sealpost: error: ${terminalSafe(oneLine(message))}${code === "INTERNAL" ? "" : ` [${code}]`}\n`);
    if (hint) this.stderr.write(`sealpost: hint: ${terminalSafe(oneLine(hint))}\n`);
    if (exitCode === 1 && env.SEALPOST_DEBUG === "1" && err instanceof Error && err.stack) {
      this.stderr.write(`${err.stack}\n`);
    }
    if (this.json && !this.resultWritten) {
      this.resultWritten = true;
      const body: JsonError = { ok: false, error: { code, message, exitCode } };
      if (hint) body.error.hint = hint;
      if (details) body.error.details = details;
      this.stdout.write(`${jsonSafe(JSON.stringify(body, jsonReplacer))}\n`);
    }
    return exitCode;
  }
}

function describe(
  err: unknown,
  exitCode: number,
): { code: string; message: string; hint?: string; details?: Record<string, unknown> } {
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; message?: unknown; hint?: unknown; details?: unknown };
    const message = typeof e.message === "string" && e.message ? e.message : String(err);
    if (exitCode === 1) {
      return {
        code: "INTERNAL",
        message: `internal error: ${message}`,
        hint: "This is a bug in sealpost. Run again with SEALPOST_DEBUG=1 and report the output to the sealpost team.",
      };
    }
    const code = typeof e.code === "string" ? e.code : "ERROR";
    const out: { code: string; message: string; hint?: string; details?: Record<string, unknown> } = {
      code,
      message,
    };
    if (typeof e.hint === "string" && e.hint) out.hint = e.hint;
    if (typeof e.details === "object" && e.details !== null) out.details = e.details as Record<string, unknown>;
    return out;
  }
  return { code: "INTERNAL", message: `internal error: ${String(err)}` };
}

/** JSON.stringify replacer: Dates as ISO strings, bytes as hex, Sets as arrays, bigint as string. */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return raw.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (value instanceof Set) return [...value];
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "Buffer") {
    const data = (value as { data?: unknown }).data;
    if (Array.isArray(data)) return Buffer.from(data as number[]).toString("hex");
  }
  return value;
}

/**
 * Characters that rearrange how text is shown: the Unicode bidirectional controls (ALM U+061C, LRM/RLM U+200E-F,
 * LRE/RLE/PDF/LRO/RLO U+202A-E, LRI/RLI/FSI/PDI U+2066-9) and the line and paragraph separators U+2028/9. A
 * right-to-left override in a file name makes "report\u202Evsc.exe" look like "reportexe.csv".
 */
const REORDERING = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/**
 * Text for a terminal: control characters (C0 except tab and newline, DEL, C1) become visible escapes such as
 * "\\x1b", and bidirectional controls escapes such as "\\u202e", so that names taken from certificates, files or
 * the server can neither send escape sequences to the user's terminal nor reorder what it shows. The Output methods
 * also fold line breaks (oneLine): every report line, warning, error and hint stays one line.
 */
export function terminalSafe(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
    .replace(REORDERING, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** JSON text with the reordering characters written as \\uXXXX escapes (the same value, safe to print). */
function jsonSafe(json: string): string {
  return json.replace(REORDERING, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Text that must stay on one line of the report (a field value, a note, a name from the server or a file): line
 * breaks become a visible "\\n", so text written by someone else cannot add lines that look like sealpost's own.
 */
export function oneLine(text: string): string {
  return text.replace(/\r\n|[\r\n\u2028\u2029]/g, "\\n");
}

/** Bytes as "1.5 MiB" etc. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A date as ISO 8601 UTC without milliseconds, e.g. "2026-11-30T01:22:36Z". */
export function formatDate(d: Date | undefined): string | undefined {
  if (!d) return undefined;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

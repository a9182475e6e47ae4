import type { EventEmitter } from "node:events";
import { openSync } from "node:fs";
import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { isatty, ReadStream } from "node:tty";
import { CliError } from "./errors.js";

/**
 * Where keystore PINs come from, in this order: `--pin-file FILE` (its first line), the SEALPOST_PIN environment
 * variable, then a no-echo prompt on the terminal. Never from a command-line argument. The prompt is written to
 * stderr and is only shown when stderr is a terminal; the PIN is read in raw mode from /dev/tty (or from stdin when
 * that is a terminal), so `seal -` can read the file from stdin and the PIN from the keyboard. Nothing is echoed.
 */
export type PinSource = "pin-file" | "env" | "prompt";

/** A terminal input that can be switched to raw mode (a tty.ReadStream, or a stand-in in tests). */
export interface RawInput extends EventEmitter {
  setRawMode(mode: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
}

/** An opened terminal: its raw input and how to release it. */
export interface Terminal {
  input: RawInput;
  close(): void;
}

export interface PinOptions {
  /** `--pin-file` value: a file whose first line is the PIN. */
  pinFile?: string | undefined;
  /** Environment (for SEALPOST_PIN). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the prompt goes; it is only shown when this is a terminal. Default process.stderr. */
  promptStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Opens the terminal to read from; default openTerminal(). Returns undefined when there is none. */
  openTerminal?: () => Terminal | undefined;
  /** Called with a warning (e.g. a PIN file readable by others). */
  onWarning?: (text: string) => void;
}

/**
 * The PIN for `keystorePath` from the first available source. Throws CliError PIN_REQUIRED when there is no PIN
 * file, no SEALPOST_PIN and no terminal; IO when the PIN file cannot be read; PIN_ABORTED on Ctrl-C/Ctrl-D.
 */
export async function resolvePin(
  keystorePath: string,
  options: PinOptions = {},
): Promise<{ pin: string; source: PinSource }> {
  const env = options.env ?? process.env;
  if (options.pinFile !== undefined) {
    const pin = await readPinFile(options.pinFile, options.onWarning);
    if (pin === "") {
      throw new CliError("USAGE", `The PIN file ${options.pinFile} is empty: its first line holds no PIN.`, {
        hint: "Write the PIN on the first line of the file (chmod 600), or leave --pin-file out to use SEALPOST_PIN or a prompt.",
      });
    }
    return { pin, source: "pin-file" };
  }
  if (env.SEALPOST_PIN !== undefined) return { pin: env.SEALPOST_PIN, source: "env" };
  return { pin: await promptPin(keystorePath, options), source: "prompt" };
}

/** True when a prompt could be shown (the prompt stream is a terminal and a terminal can be opened). */
export function canPrompt(options: PinOptions = {}): boolean {
  const out = options.promptStream ?? process.stderr;
  return out.isTTY === true;
}

/**
 * Reads the first line of a PIN file (without its line ending). Warns when the file is readable by group or others.
 * At most the first 4 KiB are read.
 */
export async function readPinFile(path: string, onWarning?: (text: string) => void): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
    if ((st.mode & 0o077) !== 0 && onWarning) {
      onWarning(`the PIN file ${path} is readable by other users; restrict it with: chmod 600 ${path}`);
    }
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString("utf8");
    const nl = text.indexOf("\n");
    return (nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, "");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new CliError("IO", `Cannot read the PIN file ${path} (${code}).`, {
      hint: "Give --pin-file a readable file whose first line is the PIN.",
    });
  } finally {
    await fh?.close();
  }
}

/** Opens /dev/tty in raw-capable form, or stdin when it is a terminal; undefined when neither is available. */
export function openTerminal(): Terminal | undefined {
  try {
    const fd = openSync("/dev/tty", "r");
    if (isatty(fd)) {
      const input = new ReadStream(fd);
      return { input, close: () => input.destroy() };
    }
  } catch {
    // no controlling terminal: fall through to stdin
  }
  if (process.stdin.isTTY) {
    const input = process.stdin as unknown as RawInput;
    return { input, close: () => process.stdin.pause() };
  }
  return undefined;
}

/**
 * Prints "PIN for <file>: " to the prompt stream and reads one line in raw mode without echo. Backspace deletes,
 * Ctrl-U clears, Enter ends, Ctrl-C (or Ctrl-D on an empty line) aborts. Raw mode is always restored.
 */
export async function promptPin(keystorePath: string, options: PinOptions = {}): Promise<string> {
  const out = options.promptStream ?? process.stderr;
  const term = out.isTTY ? (options.openTerminal ?? openTerminal)() : undefined;
  if (!term) {
    throw new CliError(
      "PIN_REQUIRED",
      `The keystore ${keystorePath} needs a PIN, and there is no terminal to ask on.`,
      {
        hint: "Set the SEALPOST_PIN environment variable, or pass --pin-file FILE (the PIN is its first line).",
      },
    );
  }
  out.write(`PIN for ${keystorePath}: `);
  const { input } = term;
  input.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      const decoder = new StringDecoder("utf8");
      let pin = "";
      const finish = (err?: Error) => {
        input.removeListener("data", onData);
        input.removeListener("end", onEnd);
        input.pause();
        out.write("\n");
        if (err) reject(err);
        else resolve(pin);
      };
      const aborted = () =>
        new CliError("PIN_ABORTED", "PIN entry was cancelled.", {
          hint: "Run the command again and type the PIN, or use SEALPOST_PIN / --pin-file.",
        });
      const onEnd = () => finish(aborted());
      const onData = (chunk: Buffer | string) => {
        const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
        for (const ch of text) {
          const c = ch.codePointAt(0)!;
          if (c === 0x0d || c === 0x0a) return finish();
          if (c === 0x03 || (c === 0x04 && pin === "")) return finish(aborted());
          if (c === 0x04) return finish();
          if (c === 0x1b) return; // an escape sequence (arrow keys ...): ignore the rest of this chunk
          if (c === 0x7f || c === 0x08) pin = Array.from(pin).slice(0, -1).join("");
          else if (c === 0x15) pin = "";
          else if (c >= 0x20) pin += ch;
        }
      };
      input.on("data", onData);
      input.on("end", onEnd);
      input.resume();
    });
  } finally {
    input.setRawMode(false);
    term.close();
  }
}

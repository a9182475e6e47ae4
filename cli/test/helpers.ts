import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Shared plumbing of the end-to-end tests: the built binary, the fixture PKI, and a child-process runner. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const bin = join(repoRoot, "cli/bin/sealpost.js");
export const pkiDir = join(repoRoot, "fixtures/pki");

export interface Person {
  name: string;
  agency: string;
  sign: { cert: string; key: string };
  encrypt: { cert: string; key: string };
  p12: string;
  pin: string;
}
export interface Troubled {
  cert: string;
  key: string;
  p12: string;
  pin: string;
  name: string;
}
export interface PkiManifest {
  root: { cert: string; crl: string };
  intermediate: { cert: string; crl: string; chain: string };
  agencies: Record<string, { name: string }>;
  people: Record<string, Person>;
  troubled: Record<string, Troubled>;
}

/** fixtures/pki/manifest.json with every path made absolute. */
export function loadPki(): PkiManifest {
  const m = JSON.parse(readFileSync(join(pkiDir, "manifest.json"), "utf8")) as PkiManifest;
  const abs = (p: string) => join(pkiDir, p);
  m.root.cert = abs(m.root.cert);
  m.root.crl = abs(m.root.crl);
  m.intermediate.cert = abs(m.intermediate.cert);
  m.intermediate.crl = abs(m.intermediate.crl);
  m.intermediate.chain = abs(m.intermediate.chain);
  for (const p of Object.values(m.people)) {
    p.sign = { cert: abs(p.sign.cert), key: abs(p.sign.key) };
    p.encrypt = { cert: abs(p.encrypt.cert), key: abs(p.encrypt.key) };
    p.p12 = abs(p.p12);
  }
  for (const t of Object.values(m.troubled)) {
    t.cert = abs(t.cert);
    t.key = abs(t.key);
    t.p12 = abs(t.p12);
  }
  return m;
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** stdout parsed as JSON (throws when it is not exactly one JSON document). */
  json(): Record<string, unknown> & { ok: boolean };
}

/**
 * Runs `node cli/bin/sealpost.js ...args` in `cwd` with a clean environment (HOME and XDG_CONFIG_HOME pointed at
 * cwd so no user config leaks in) plus `env`; `input` is written to stdin (stdin is closed otherwise).
 */
export function sealpost(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: Buffer | string },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: opts.cwd,
        XDG_CONFIG_HOME: join(opts.cwd, ".config"),
        ...opts.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) => {
      const stdout = Buffer.concat(out);
      resolvePromise({
        code: code ?? -1,
        stdout,
        stderr: Buffer.concat(err).toString("utf8"),
        json() {
          const text = stdout.toString("utf8").trim();
          expectOneLine(text);
          return JSON.parse(text);
        },
      });
    });
  });
}

function expectOneLine(text: string): void {
  if (text.split("\n").length !== 1) throw new Error(`expected exactly one JSON line on stdout, got:\n${text}`);
}

/** Runs a command (openssl, tmux ...) and returns its exit code, stdout and stderr. */
export function runTool(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: Buffer } = {},
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) =>
      resolvePromise({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }),
    );
  });
}

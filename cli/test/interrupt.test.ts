import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, loadPki, type PkiManifest } from "./helpers.js";

// An interrupted seal leaves nothing behind: the temporary file beside the output is removed on SIGTERM/SIGINT.

let dir: string;
let pki: PkiManifest;

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-interrupt-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("interrupt", () => {
  it.each([
    { signal: "SIGTERM" as const, code: 143 },
    { signal: "SIGINT" as const, code: 130 },
  ])("$signal while sealing from stdin: exit $code, no output, no temporary file", async ({ signal, code }) => {
    const out = `stream-${signal}.p7m`;
    const child = spawn(
      process.execPath,
      [
        bin,
        "seal",
        "-",
        "--to",
        pki.people["tax-wang"]!.encrypt.cert,
        "--key",
        pki.people["soc-chen"]!.p12,
        "--trust",
        pki.root.cert,
        "--crl",
        pki.intermediate.crl,
        "--crl",
        pki.root.crl,
        "-o",
        out,
      ],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, SEALPOST_PIN: pki.people["soc-chen"]!.pin },
        stdio: ["pipe", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    child.stdin.write(Buffer.alloc(256 * 1024, 0x41));
    // Wait (by polling, not by timing) until the temporary output file exists: sealing is under way.
    let temps: string[] = [];
    for (let i = 0; i < 300 && temps.length === 0; i++) {
      temps = (await readdir(dir)).filter((n) => n.startsWith(`.${out}.`) && n.endsWith(".tmp"));
      if (temps.length === 0) await sleep(50);
    }
    expect(temps).toHaveLength(1);
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(stderr).toContain(`sealpost: interrupted (${signal}); temporary files removed`);
    expect((await readdir(dir)).filter((n) => n.includes(out))).toEqual([]);
  });
});

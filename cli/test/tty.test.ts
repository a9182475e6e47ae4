import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, loadPki, type PkiManifest, runTool, sealpost } from "./helpers.js";

// The PIN prompt on a real pseudo-terminal: tmux runs the CLI, the test types the PIN with send-keys and reads the
// screen with capture-pane. The PIN must never appear on screen; a wrong PIN is asked again.

let dir: string;
let pki: PkiManifest;
const socket = `sealpost-cli-test-${process.pid}`;
const session = "pin";
const tmux = (...args: string[]) => runTool("tmux", ["-L", socket, ...args]);

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-tty-"));
  await writeFile(join(dir, "report.csv"), "案件,筆數\nC-1,3\n");
  const r = await sealpost(
    [
      "seal",
      "report.csv",
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
      "incoming.csv.p7m",
    ],
    {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin },
    },
  );
  expect(r.code).toBe(0);
});

afterAll(async () => {
  await tmux("kill-server").catch(() => {});
  // kill-server may leave its socket file behind
  await rm(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
  await rm(dir, { recursive: true, force: true });
});

async function screen(): Promise<string> {
  return (await tmux("capture-pane", "-p", "-t", session)).stdout.toString("utf8");
}

/** Polls the screen until `pattern` shows up, the command ended, or ~20 s passed; returns the last screen. */
async function waitFor(pattern: RegExp): Promise<string> {
  let text = "";
  for (let i = 0; i < 200; i++) {
    text = await screen();
    if (pattern.test(text) || /SEALPOST_EXIT=/.test(text)) return text;
    await sleep(100);
  }
  return text;
}

describe("PIN prompt on a terminal", () => {
  it("reads the PIN without echo, asks again after a wrong PIN, and opens the file", async () => {
    const wang = pki.people["tax-wang"]!;
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const command = [
      `cd ${q(dir)} &&`,
      `env -u SEALPOST_PIN XDG_CONFIG_HOME=${q(join(dir, ".config"))}`,
      `${q(process.execPath)} ${q(bin)} open incoming.csv.p7m --key ${q(wang.p12)}`,
      `--trust ${q(pki.root.cert)} --crl ${q(pki.intermediate.crl)} --crl ${q(pki.root.crl)};`,
      "echo SEALPOST_EXIT=$?; sleep 60",
    ].join(" ");
    const started = await tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command);
    expect(started.code).toBe(0);

    const prompt = await waitFor(/PIN for .*tax-wang\.p12:/);
    // capture-pane trims the prompt's trailing space
    expect(prompt).toMatch(/PIN for .*tax-wang\.p12:$/m);
    await tmux("send-keys", "-t", session, "-l", "wrong-PIN-0000");
    await tmux("send-keys", "-t", session, "Enter");
    const again = await waitFor(/wrong PIN, try again\n.*PIN for /);
    expect(again).toContain("sealpost: wrong PIN, try again");

    await tmux("send-keys", "-t", session, "-l", wang.pin);
    await tmux("send-keys", "-t", session, "Enter");
    const done = await waitFor(/SEALPOST_EXIT=\d+/);
    expect(done).toMatch(/SEALPOST_EXIT=0/);
    expect(done).toMatch(/Opened incoming\.csv\.p7m -> incoming\.csv/);
    expect(done).toMatch(/Signer:\s+陳怡君/);
    expect(done).not.toContain(wang.pin);
    expect(done).not.toContain("wrong-PIN-0000");
    expect(await readFile(join(dir, "incoming.csv"), "utf8")).toBe("案件,筆數\nC-1,3\n");
    expect((await stat(join(dir, "incoming.csv"))).mode & 0o777).toBe(0o600);
  });

  it("draws a progress bar on stderr for a large file when stderr is a terminal, and none with --quiet", async () => {
    await writeFile(join(dir, "big.bin"), Buffer.alloc(24 * 1024 * 1024, 0x5a));
    const q = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
    const seal = (out: string, extra: string) =>
      `${q(process.execPath)} ${q(bin)} seal big.bin --to ${q(pki.people["tax-wang"]!.encrypt.cert)} --key ${q(pki.people["soc-chen"]!.p12)} --trust ${q(pki.root.cert)} --crl ${q(pki.intermediate.crl)} --crl ${q(pki.root.crl)} -o ${out} ${extra}`;
    // The session waits for Enter, so that pipe-pane records everything the command writes to the terminal.
    const command = `cd ${q(dir)} && read go && export SEALPOST_PIN=${q(pki.people["soc-chen"]!.pin)} && ${seal("big1.p7m", "")} && ${seal("big2.p7m", "--quiet")}; echo SEALPOST_EXIT=$?; sleep 60`;
    expect((await tmux("new-session", "-d", "-s", "bar", "-x", "160", "-y", "40", command)).code).toBe(0);
    const log = join(dir, "bar.log");
    expect((await tmux("pipe-pane", "-t", "bar", "-o", `cat >> ${q(log)}`)).code).toBe(0);
    await tmux("send-keys", "-t", "bar", "Enter");
    let text = "";
    for (let i = 0; i < 300 && !/SEALPOST_EXIT=\d/.test(text); i++) {
      await sleep(100);
      text = await readFile(log, "utf8").catch(() => "");
    }
    expect(text).toMatch(/SEALPOST_EXIT=0/);
    const [first, second] = text.split("Sealed big.bin -> big1.p7m");
    expect(first).toMatch(/\rsealing \[[#-]+\]\s+\d+%\s+[\d.]+ MiB \/ 24\.0 MiB\s+[\d.]+ [KMG]?i?B\/s\s+\d+:\d\d left/);
    expect(first).toContain("\r\x1b[K");
    expect(second).toBeDefined();
    expect(second).not.toContain("sealing [");
    expect((await stat(join(dir, "big2.p7m"))).size).toBeGreaterThan(24 * 1024 * 1024);
  });
});

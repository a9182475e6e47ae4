import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, loadPki, type PkiManifest, sealpost } from "./helpers.js";

// kill -9 during `open` leaves a temporary file of unverified plaintext beside the output. The next sealpost run in
// that folder removes it (and says so), but never the temporary file of a sealpost that is still running.

let dir: string;
let pki: PkiManifest;
let trustArgs: string[];
const children: ChildProcess[] = [];

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-stale-"));
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
  // 48 MiB of fictional rows: opening takes long enough to be stopped while its temporary file grows.
  const row = Buffer.from("測試人員,A100000001,H1\n", "utf8");
  await writeFile(join(dir, "big.csv"), Buffer.concat(Array(Math.ceil((48 << 20) / row.length)).fill(row)));
  const wang = pki.people["tax-wang"]!;
  const chen = pki.people["soc-chen"]!;
  const r = await sealpost(
    ["seal", "big.csv", "--to", wang.encrypt.cert, "--key", chen.p12, ...trustArgs, "-o", "big.csv.p7m", "--quiet"],
    { cwd: dir, env: { SEALPOST_PIN: chen.pin } },
  );
  expect(r.code).toBe(0);
  await rm(join(dir, "big.csv"));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

const temps = async () => (await readdir(dir)).filter((n) => n.endsWith(".tmp"));

/** Starts `sealpost open big.csv.p7m -o OUT` and stops it (SIGSTOP) as soon as its temporary file holds content. */
async function openAndFreeze(out: string): Promise<{ child: ChildProcess; temp: string }> {
  const wang = pki.people["tax-wang"]!;
  const before = new Set(await temps());
  const child = spawn(
    process.execPath,
    [bin, "open", "big.csv.p7m", "--key", wang.p12, ...trustArgs, "-o", out, "--quiet"],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, SEALPOST_PIN: wang.pin },
      stdio: ["ignore", "ignore", "ignore"],
    },
  );
  children.push(child);
  for (let i = 0; i < 3000; i++) {
    const fresh = (await temps()).filter((n) => !before.has(n) && n.startsWith(`.${out}.`));
    if (fresh.length === 1 && (await stat(join(dir, fresh[0]!)).catch(() => undefined))?.size) {
      child.kill("SIGSTOP");
      return { child, temp: fresh[0]! };
    }
    if (child.exitCode !== null) break;
    await sleep(5);
  }
  throw new Error("the open finished before its temporary file could be seen");
}

describe("stale temporary files", () => {
  it("kill -9 during open leaves plaintext; the next run removes it and says so; a live run's file stays", async () => {
    const dead = await openAndFreeze("dead.csv");
    dead.child.kill("SIGKILL");
    await new Promise((resolve) => dead.child.once("exit", resolve));
    expect((await stat(join(dir, dead.temp))).size).toBeGreaterThan(0); // unverified plaintext left behind
    expect((await readFile(join(dir, dead.temp))).subarray(0, 10).toString("utf8")).toMatch(/測試/);

    // Any later sealpost command that writes into the folder sweeps it.
    const wang = pki.people["tax-wang"]!;
    const run = (out: string) =>
      sealpost(["open", "big.csv.p7m", "--key", wang.p12, ...trustArgs, "-o", out], {
        cwd: dir,
        env: { SEALPOST_PIN: wang.pin },
      });
    const next = await run("next.csv");
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(
      `sealpost: warning: removed 1 stale temporary file left by an interrupted sealpost run in ${dir}: ${dead.temp}\n`,
    );
    expect(await temps()).toEqual([]);

    // A sealpost that is running (here stopped, but alive) keeps its temporary file.
    const live = await openAndFreeze("live.csv");
    const again = await run("again.csv");
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/stale/);
    expect(await temps()).toEqual([live.temp]);

    live.child.kill("SIGCONT");
    const code = await new Promise((resolve) => live.child.once("exit", resolve));
    expect(code).toBe(0);
    expect(await temps()).toEqual([]);
  });
});

import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bin, M, pki, registerFixtureRegistry, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * `send`, `receive`, `reply` and `result` stream their files: the peak RSS of the spawned `sealpost` process stays
 * under 160 MiB with a 256 MiB file, against a real relay server on a loopback socket. The peak is the kernel's
 * (GNU time's maximum resident set size of the process).
 */

const SIZE = 256 * 1024 * 1024;
const LIMIT_KIB = 160 * 1024;

let relay: TestRelay;
let big: string;

/** Runs `sealpost ARGS` as fixture person `id` under GNU time; returns exit code, output and peak RSS (KiB). */
async function measured(
  id: string,
  args: string[],
): Promise<{ code: number; stderr: string; stdout: string; peakKiB: number }> {
  const p = M.people[id];
  const dir = join(relay.work, "home", id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      server: relay.server.url,
      trust: [pki(M.root.cert)],
      intermediates: [pki(M.intermediate.cert)],
      crls: [pki(M.intermediate.crl), pki(M.root.crl)],
      keystore: pki(p.p12),
    }),
  );
  const timeFile = join(relay.work, `time-${id}-${args[1] ?? args[0]}.txt`);
  const child = spawn("/usr/bin/time", ["-f", "%M", "-o", timeFile, process.execPath, bin, ...args], {
    env: { ...process.env, SEALPOST_CONFIG: join(dir, "config.json"), SEALPOST_PIN: p.pin },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = (await once(child, "close")) as [number];
  const peakKiB = Number(readFileSync(timeFile, "utf8").trim().split("\n").pop());
  expect(Number.isFinite(peakKiB) && peakKiB > 0, `GNU time output: ${readFileSync(timeFile, "utf8")}`).toBe(true);
  return { code, stdout, stderr, peakKiB };
}

beforeAll(async () => {
  relay = await startRelay("sealpost-transfer-memory-");
  await registerFixtureRegistry(relay.server.url);
  for (const id of ["soc-chen", "tax-wang"]) expect((await measured(id, ["login"])).code).toBe(0);
  // Random bytes: nothing for a compressor to shrink.
  big = join(relay.work, "big.bin");
  const fd = openSync(big, "w");
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let done = 0; done < SIZE; done += chunk.length) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
}, 300_000);
afterAll(async () => {
  await relay?.close();
});

describe("the round trip streams its files", () => {
  test("send, receive, reply and result of 256 MiB each peak under 160 MiB RSS", async () => {
    const peaks: Record<string, number> = {};
    const send = await measured("soc-chen", [
      "--json",
      "send",
      big,
      "--to-agency",
      "KHH-TAX",
      "--category",
      "C",
      "--records",
      "1",
      "--upload-no",
      "MEM-1",
      "--to-user",
      M.people["tax-wang"].email,
    ]);
    expect(send.code, send.stderr).toBe(0);
    peaks.send = send.peakKiB;
    const id = JSON.parse(send.stdout).case.id as string;

    const receive = await measured("tax-wang", ["--json", "receive", id, "-o", join(relay.work, "inbox")]);
    expect(receive.code, receive.stderr).toBe(0);
    expect(JSON.parse(receive.stdout).contentBytes).toBe(SIZE);
    peaks.receive = receive.peakKiB;

    const reply = await measured("tax-wang", ["--json", "reply", id, big]);
    expect(reply.code, reply.stderr).toBe(0);
    peaks.reply = reply.peakKiB;

    const result = await measured("soc-chen", ["--json", "result", id, "-o", join(relay.work, "results")]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).contentBytes).toBe(SIZE);
    peaks.result = result.peakKiB;

    console.log(
      `peak RSS (MiB): ${Object.entries(peaks)
        .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`)
        .join(", ")}`,
    );
    for (const [command, kib] of Object.entries(peaks))
      expect(kib, `${command} peak RSS ${kib} KiB`).toBeLessThan(LIMIT_KIB);
  }, 900_000);
});

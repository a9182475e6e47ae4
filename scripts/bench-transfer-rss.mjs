#!/usr/bin/env node
// Peak RSS of the `sealpost` CLI's round trip through a relay server (issue 12 item 1): `send`, `receive`, `reply`
// and `result` of one file, each a `sealpost` child process run under GNU time (%M, the process's peak resident set),
// against a real `sealpost-server` child process on loopback with a fresh data folder and the fixture registry
// (fictional test data). Prints a table and writes bench-out/transfer-rss-results.json (rows { tool: "sealpost",
// op, seconds, peakRssMiB }, merged by scripts/bench.mjs into its results). The server is stopped and the temporary
// folder removed in every case. It measures; it asserts nothing (tests/relay-cli/transfer-memory.test.ts does).
//
// Usage: node scripts/bench-transfer-rss.mjs <file>     (npm run bench calls it with its 1 GiB batch)
// Needs the built workspaces (npm run build), /usr/bin/time and free disk for about five times the file.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manifest, registerFixtures, startRelay } from "./lib/bench-relay.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "cli/bin/sealpost.js");
const pki = (rel) => path.join(root, "fixtures/pki", rel);
const outDir = path.join(root, "bench-out");
const SENDER = "soc-chen";
const RECEIVER = "tax-wang";

const input = process.argv[2];
if (!input) {
  process.stderr.write("usage: node scripts/bench-transfer-rss.mjs <file>\n");
  process.exit(2);
}
const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-bench-rss-"));
let relay;
const cleanup = async () => {
  await relay?.stop();
  rmSync(work, { recursive: true, force: true });
};
process.once("SIGINT", () => cleanup().then(() => process.exit(130)));

/** Runs `sealpost ARGS` as fixture person `id` (own config folder, PIN by SEALPOST_PIN) under GNU time. */
function sealpost(id, args) {
  const p = manifest.people[id];
  const dir = path.join(work, "home", id);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: relay.url,
      trust: [pki(manifest.root.cert)],
      intermediates: [pki(manifest.intermediate.cert)],
      crls: [pki(manifest.intermediate.crl), pki(manifest.root.crl)],
      keystore: pki(p.p12),
    }),
  );
  const tf = path.join(work, "time.txt");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", tf, process.execPath, cli, "--json", ...args], {
    env: { ...process.env, SEALPOST_CONFIG: config, SEALPOST_PIN: p.pin },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`sealpost ${args[0]} failed (exit ${r.status}): ${r.stderr.toString().slice(-2000)}`);
  const [seconds, kib] = readFileSync(tf, "utf8").trim().split(/\s+/).slice(-2).map(Number);
  return { seconds, peakRssMiB: kib / 1024, json: r.stdout.length ? JSON.parse(r.stdout.toString()) : undefined };
}

try {
  const size = statSync(input).size;
  relay = await startRelay(path.join(work, "data"));
  await registerFixtures(relay.url);
  for (const id of [SENDER, RECEIVER]) sealpost(id, ["login"]);
  const rows = [];
  const row = (op, r) => {
    rows.push({ tool: "sealpost", op, bytes: size, seconds: r.seconds, peakRssMiB: r.peakRssMiB });
    console.log(
      `| ${op.padEnd(8)} | ${r.seconds.toFixed(1).padStart(7)} s | ${r.peakRssMiB.toFixed(1).padStart(7)} MiB |`,
    );
  };
  console.log(
    `| command  | time      | peak RSS    |   (${(size / 1024 ** 2).toFixed(0)} MiB file, load ${os.loadavg()[0].toFixed(2)})`,
  );
  const send = sealpost(SENDER, [
    "send",
    input,
    "--to-agency",
    manifest.people[RECEIVER].agency,
    "--category",
    "WELFARE-TAX",
    "--records",
    "1",
    "--upload-no",
    "RSS-1",
    "--to-user",
    manifest.people[RECEIVER].email,
  ]);
  row("send", send);
  const id = send.json.case.id;
  const inbox = path.join(work, "inbox");
  row("receive", sealpost(RECEIVER, ["receive", id, "-o", inbox]));
  rmSync(inbox, { recursive: true, force: true });
  row("reply", sealpost(RECEIVER, ["reply", id, input]));
  row("result", sealpost(SENDER, ["result", id, "-o", path.join(work, "results")]));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "transfer-rss-results.json"), JSON.stringify(rows, null, 2));
} catch (e) {
  process.stderr.write(`bench-transfer-rss: error: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

#!/usr/bin/env node
// Replays inputs through one fuzz target in a fresh process and measures each: CPU time, and the peak RSS above the
// baseline (this process after loading the target and running its seeds once). Used at the end of a campaign on
// its corpus and findings, and to judge a single input: node scripts/fuzz/replay.mjs TARGET FILE_OR_DIR...
// Prints one JSON object: { inputs, baselineMiB, peakAboveBaselineMiB, peakFile (the input that set the peak),
// slowest: { file, cpuMs }, failures: [{ file, error }] }.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { TARGETS } from "./targets.mjs";

const [target, ...paths] = process.argv.slice(2);
const t = TARGETS[target];
if (!t) {
  console.error(`replay: unknown target "${target}"`);
  process.exit(2);
}
const files = [];
for (const p of paths) {
  if (statSync(p).isDirectory()) {
    for (const f of readdirSync(p)) if (!f.endsWith(".txt")) files.push(join(p, f));
  } else files.push(p);
}
for (const s of await t.seeds()) await t.run(s).catch(() => {});
globalThis.gc?.();
const baseline = process.resourceUsage().maxRSS;
let slowest = { file: "", cpuMs: 0 };
let peakFile = "";
let peak = baseline;
const failures = [];
for (const f of files) {
  const input = readFileSync(f);
  const c0 = process.cpuUsage();
  try {
    await t.run(input);
  } catch (e) {
    failures.push({ file: f, error: `${e?.constructor?.name}: ${String(e?.message).slice(0, 200)}` });
  }
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  const rss = process.resourceUsage().maxRSS;
  if (rss > peak) {
    peak = rss;
    peakFile = f;
  }
  if (ms > slowest.cpuMs) slowest = { file: f, cpuMs: Math.round(ms) };
}
const out = {
  inputs: files.length,
  baselineMiB: Math.round(baseline / 1024),
  peakAboveBaselineMiB: Number(((process.resourceUsage().maxRSS - baseline) / 1024).toFixed(1)),
  peakFile,
  slowest,
  slowCpuMs: t.slowCpuMs,
  failures,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);

#!/usr/bin/env node
// Coverage-guided fuzzing of one sealpost parser: `npm run fuzz -- TARGET --seconds N [--runs N] [--seed N]
// [--out DIR]`. Targets: ber, inspect, open, verify, cert, crl, ocsp, keystore (scripts/fuzz/targets.mjs).
//
// Why not @jazzer.js/core: it installs from the registry, but its only Linux x64 build (4.0.0, shipped prebuilt)
// needs GLIBC 2.38 (this Debian has 2.36), and older versions download their binary from GitHub at install time,
// which cannot work here. This fuzzer needs nothing native: V8's precise block coverage (node:inspector Profiler)
// is the feedback, mutations are byte-level and BER-aware (mutate.mjs).
//
// The loop runs in a child process (worker.mjs) that writes each input to OUT/current before running it; this
// process watches it: a child that dies (an exception that escapes, a native assertion, out of memory) leaves its
// input as a crash, one that makes no progress for HANG_MS leaves it as a hang; then a new child goes on. Inputs that raised the peak RSS by 16 MiB or ran for a
// second are kept as suspects. At the end replay.mjs runs the corpus and the suspects again, one by one, in a fresh
// process: an input whose peak RSS is more than 64 MiB above that process's baseline is a memory finding, one that
// costs more than 2 s of CPU a slow one. (The campaign's own RSS is no measure: the coverage data and the corpus
// live in the same process.) Findings go to OUT/findings (input and error), the corpus to OUT/corpus (reused by
// later runs), a summary to OUT/summary.json. Exit code 1 on any finding.
import { execFileSync, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const HANG_MS = 10_000;
const MEMORY_BOUND_MIB = 64;
const SLOW_CPU_MS = 2000;
const TARGETS = ["ber", "inspect", "open", "verify", "cert", "crl", "ocsp", "keystore"];

function usage(msg) {
  if (msg) console.error(`fuzz: error: ${msg}`);
  console.error(
    `usage: npm run fuzz -- TARGET --seconds N [--runs N] [--seed N] [--out DIR]\ntargets: ${TARGETS.join(", ")}`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
const target = args[0];
if (!target || !TARGETS.includes(target)) usage(target ? `unknown target "${target}"` : "no target");
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  if (v === undefined) usage(`--${name} needs a value`);
  return v;
};
const seconds = Number(opt("seconds", "60"));
const maxRuns = Number(opt("runs", String(Number.MAX_SAFE_INTEGER)));
const seed = Number(opt("seed", String(Date.now() & 0x7fffffff)));
const outDir = resolve(opt("out", join("fuzz-out", target)));
if (!(seconds > 0) || !(maxRuns > 0)) usage("--seconds and --runs must be positive");
mkdirSync(join(outDir, "findings"), { recursive: true });

const started = Date.now();
const deadline = started + seconds * 1000;
const currentPath = join(outDir, "current");
const summary = { target, seed, seconds, execs: 0, restarts: 0, findings: [], corpus: 0, coverage: 0 };
let baselineRss;
let peakRss = 0;
let doneExecs = 0; // of workers that ended

function currentInput() {
  try {
    return readFileSync(currentPath);
  } catch {
    return Buffer.alloc(0);
  }
}
const beat = () => {
  try {
    return statSync(currentPath).mtimeMs;
  } catch {
    return 0;
  }
};

/** SHA-1s of inputs that killed or hung a child: the next child skips them (a seed would do it again). */
const skip = new Set();

function saveFinding(kind, input, text) {
  const sha1 = createHash("sha1").update(input).digest("hex");
  skip.add(sha1);
  rmSync(join(outDir, "corpus", sha1), { force: true });
  const id = `${kind}-${sha1.slice(0, 12)}`;
  writeFileSync(join(outDir, "findings", `${id}.bin`), input);
  writeFileSync(join(outDir, "findings", `${id}.txt`), `${text}\n`);
  summary.findings.push({ kind, id, text });
  console.log(`fuzz ${target}: ${kind} ${id}: ${text}`);
}

function runWorker(runSeed) {
  return new Promise((resolveRun) => {
    const config = { target, deadline, maxRuns: maxRuns - doneExecs, outDir, seed: runSeed, skip: [...skip] };
    const w = fork(new URL("./worker.mjs", import.meta.url), [JSON.stringify(config)], { silent: true });
    let stderr = "";
    w.stderr.on("data", (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    w.stdout.resume();
    let lastBeat = beat();
    let lastChange = Date.now();
    let workerExecs = 0;
    let hung = false;
    let done = false;
    const timer = setInterval(() => {
      const b = beat();
      if (b !== lastBeat) {
        lastBeat = b;
        lastChange = Date.now();
      }
      const rss = process.memoryUsage().rss;
      if (baselineRss !== undefined && rss > peakRss) peakRss = rss;
      if (!hung && Date.now() - lastChange > HANG_MS) {
        hung = true;
        saveFinding("hang", currentInput(), `no progress for ${HANG_MS} ms on this input`);
        w.kill("SIGKILL");
      }
    }, 100);
    w.on("message", (m) => {
      if (m.type === "ready") {
        if (baselineRss === undefined) {
          baselineRss = process.memoryUsage().rss;
          peakRss = baselineRss;
        }
        console.log(`fuzz ${target}: ${m.seeds} seeds, corpus ${m.corpus}, ${m.coverage} blocks covered`);
      } else if (m.type === "stats") {
        workerExecs = m.execs;
        const s = (Date.now() - started) / 1000;
        console.log(
          `fuzz ${target}: ${doneExecs + m.execs} execs in ${s.toFixed(0)} s (${((doneExecs + m.execs) / s).toFixed(0)}/s), corpus ${m.corpus}, ${m.coverage} blocks, findings ${summary.findings.length}`,
        );
      } else if (m.type === "finding") {
        summary.findings.push({ kind: m.kind, id: m.id, text: `${m.name}: ${m.message}` });
        console.log(`fuzz ${target}: crash ${m.id}: ${m.name}: ${m.message}`);
      } else if (m.type === "done") {
        done = true;
        workerExecs = m.execs;
        summary.corpus = m.corpus;
        summary.coverage = m.coverage;
      }
    });
    w.on("exit", (code, signal) => {
      clearInterval(timer);
      if (!done && !hung) {
        saveFinding("crash", currentInput(), `the fuzzing process died (${signal ?? `exit ${code}`}):\n${stderr}`);
      }
      // A child that died before reporting: count what it did from its last stats.
      resolveRun({ again: !done, execs: workerExecs });
    });
  });
}

let runSeed = seed;
while (Date.now() < deadline && doneExecs < maxRuns) {
  const r = await runWorker(runSeed++);
  doneExecs += r.execs;
  if (!r.again) break;
  summary.restarts++;
}
summary.execs = doneExecs;
summary.durationSeconds = Math.round((Date.now() - started) / 1000);
summary.harnessPeakRssAboveBaselineMiB = Number(((peakRss - (baselineRss ?? peakRss)) / 2 ** 20).toFixed(1));
// Each kept input and each suspect again, alone, in a fresh process: memory and CPU per input.
const replayed = [];
for (const dir of ["corpus", "suspects"]) {
  const r = JSON.parse(
    execFileSync(process.execPath, [new URL("./replay.mjs", import.meta.url).pathname, target, join(outDir, dir)], {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60_000,
    }),
  );
  replayed.push({ dir, ...r });
  if (r.peakAboveBaselineMiB > MEMORY_BOUND_MIB) {
    saveFinding("memory", readFileSync(r.peakFile), `peak RSS ${r.peakAboveBaselineMiB} MiB above the baseline`);
  }
  if (r.slowest.cpuMs > (r.slowCpuMs ?? SLOW_CPU_MS)) {
    saveFinding("slow", readFileSync(r.slowest.file), `${r.slowest.cpuMs} ms of CPU for one input`);
  }
  for (const f of r.failures) saveFinding("replay", readFileSync(f.file), `on replay: ${f.error}`);
}
summary.replay = replayed.map(({ dir, inputs, peakAboveBaselineMiB, slowest }) => ({
  dir,
  inputs,
  peakAboveBaselineMiB,
  slowestCpuMs: slowest.cpuMs,
}));
summary.peakRssAboveBaselineMiB = Math.max(...replayed.map((r) => r.peakAboveBaselineMiB));
writeFileSync(join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `fuzz ${target}: ${summary.execs} executions in ${summary.durationSeconds} s, corpus ${summary.corpus}, ${summary.coverage} blocks, ${summary.findings.length} findings; replay: peak RSS +${summary.peakRssAboveBaselineMiB} MiB (bound ${MEMORY_BOUND_MIB}), slowest input ${Math.max(...replayed.map((r) => r.slowest.cpuMs))} ms CPU`,
);
process.exit(summary.findings.length > 0 ? 1 : 0);

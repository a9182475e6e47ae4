// The fuzz loop of scripts/fuzz/run.mjs, in a child process so that run.mjs survives what kills it (a native
// assertion aborts the whole process) and can tell which input did: each input is written to OUT/current before
// it runs (its modification time is also the heartbeat run.mjs watches for hangs).
// Coverage-guided: inputs run in batches; when a batch covers a block never covered before, its inputs are run
// again one by one and those that add coverage join the corpus.
import { createHash } from "node:crypto";
import { ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BlockCoverage } from "./coverage.mjs";
import { Mutator, Rng } from "./mutate.mjs";
import { TARGETS } from "./targets.mjs";

const { target, deadline, maxRuns, outDir, seed, skip = [], batch: BATCH = 32 } = JSON.parse(process.argv[2]);
const t = TARGETS[target];
const parentPort = { postMessage: (m) => process.send(m) };
const currentFd = openSync(join(outDir, "current"), "w");
const rng = new Rng(seed);
const mutator = new Mutator(rng);
const corpusDir = join(outDir, "corpus");
const findingsDir = join(outDir, "findings");
mkdirSync(corpusDir, { recursive: true });
mkdirSync(findingsDir, { recursive: true });

// Our packages and the ASN.1 libraries they hand bytes to.
const cov = new BlockCoverage(
  (url) => /\/packages\/[a-z]+\/dist\//.test(url) || /node_modules\/(asn1js|pkijs)\//.test(url),
);
const seen = new Set();
const corpus = [];
const sha = (b) => createHash("sha1").update(b).digest("hex");
let execs = 0;
let findings = 0;
const findingKeys = new Set();

function publish(buf) {
  writeSync(currentFd, buf, 0, buf.length, 0);
  ftruncateSync(currentFd, buf.length);
}

const suspectsDir = join(outDir, "suspects");
mkdirSync(suspectsDir, { recursive: true });
/** An input that raised the process's peak RSS by this much, or ran this long, is kept for replay.mjs to judge. */
const SUSPECT_RSS_KIB = 16 * 1024;
const SUSPECT_MS = 1000;

async function execute(buf) {
  publish(buf);
  execs++;
  const rss0 = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  try {
    await t.run(buf);
  } catch (e) {
    crash(buf, e);
  }
  if (process.resourceUsage().maxRSS - rss0 > SUSPECT_RSS_KIB || performance.now() - t0 > SUSPECT_MS) {
    writeFileSync(join(suspectsDir, sha(buf)), buf);
  }
}

function crash(buf, e) {
  {
    const name = e?.constructor?.name ?? typeof e;
    const where = String(e?.stack ?? "")
      .split("\n")
      .slice(1, 3)
      .join("|");
    const key = `${name}:${String(e?.message).slice(0, 60)}:${where}`;
    if (!findingKeys.has(key)) {
      findingKeys.add(key);
      findings++;
      const id = `crash-${sha(buf).slice(0, 12)}`;
      writeFileSync(join(findingsDir, `${id}.bin`), buf);
      writeFileSync(join(findingsDir, `${id}.txt`), `${name}: ${e?.message}\n${e?.stack ?? ""}\n`);
      parentPort.postMessage({ type: "finding", kind: "crash", id, name, message: String(e?.message).slice(0, 200) });
    }
  }
}

function newKeys(keys) {
  let fresh = 0;
  for (const k of keys) {
    if (!seen.has(k)) {
      seen.add(k);
      fresh++;
    }
  }
  return fresh;
}

function keep(buf, save = true) {
  corpus.push(buf);
  if (save) writeFileSync(join(corpusDir, sha(buf)), buf);
}

// Seeds (from ../shared/vectors in place, made fixtures) and the corpus of earlier runs of this target.
const skipped = new Set(skip);
const start = [...(await t.seeds())];
for (const name of readdirSync(corpusDir)) start.push(readFileSync(join(corpusDir, name)));
for (let i = start.length - 1; i >= 0; i--) if (skipped.has(sha(start[i]))) start.splice(i, 1);
cov.take();
for (const s of start) {
  await execute(s);
  if (newKeys(cov.take()) > 0 || corpus.length < 8) keep(s, false);
}
if (corpus.length === 0) keep(Buffer.from([0x30, 0x00]), false);
parentPort.postMessage({ type: "ready", seeds: start.length, corpus: corpus.length, coverage: seen.size, execs });

let lastReport = Date.now();
const inputs = [];
while (Date.now() < deadline && execs < maxRuns) {
  inputs.length = 0;
  cov.take();
  for (let i = 0; i < BATCH; i++) {
    // Favour recent corpus entries (they found new code) half of the time.
    const parent = rng.chance(0.5)
      ? corpus[corpus.length - 1 - rng.below(Math.min(corpus.length, 16))]
      : corpus[rng.below(corpus.length)];
    const m = mutator.mutate(parent, corpus[rng.below(corpus.length)]);
    inputs.push(m);
    await execute(m);
  }
  const batchKeys = cov.take();
  let fresh = false;
  for (const k of batchKeys) {
    if (!seen.has(k)) {
      fresh = true;
      break;
    }
  }
  if (fresh) {
    for (const m of inputs) {
      await execute(m);
      if (newKeys(cov.take()) > 0) keep(m);
    }
  }
  if (Date.now() - lastReport > 10_000) {
    lastReport = Date.now();
    parentPort.postMessage({ type: "stats", execs, corpus: corpus.length, coverage: seen.size, findings });
  }
}
cov.close();
process.send({ type: "done", execs, corpus: corpus.length, coverage: seen.size, findings }, () => process.exit(0));

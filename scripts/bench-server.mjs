#!/usr/bin/env node
// Benchmarks the relay server (issue 6) on loopback, through a real `sealpost-server` child process with a fresh data
// folder and the fixture registry (fictional test data):
//   1. a sealed batch streamed up (KHH-SOC sender soc-chen, new case to KHH-TAX) and down (KHH-TAX receiver
//      tax-wang) with the CLI's HTTP client: MB/s (10^6 bytes of the sealed file per second), the server's peak RSS
//      (VmRSS sampled every 100 ms during the transfer) and CPU seconds. Sealing comes first and is not timed.
//   2. the case API under BENCH_CLIENTS concurrent clients (default 50, each its own login token, spread round robin
//      over the six fixture staff of both agencies), BENCH_REQUESTS requests in total (default 5000; it stops after
//      120 s in any case): 5 in 10 list a box (GET /v1/cases?box=inbox|outbox), 4 read a case (GET /v1/cases/:id),
//      1 registers a case (POST /v1/cases). BENCH_SEED_CASES (default 100) cases are registered first, so lists are
//      not empty. Requests/s, p50/p99 latency (overall and per operation), errors (any error fails the run).
// Prints a table and writes bench-out/server-results.json (rows { tool: "server", op, ... }, which scripts/bench.mjs
// merges into its results). Exits 1 with a message on any failure (2 on bad arguments); the server is stopped and the temporary folder
// (data folder, sealed and downloaded files) removed in every case, also on Ctrl-C.
//
// Usage: node scripts/bench-server.mjs <batch-file>      (npm run bench calls it with its 1 GiB batch)
//        BENCH_CLIENTS=10 BENCH_REQUESTS=1000 node scripts/bench-server.mjs <batch-file>
//        BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" ...   (flags for the server's node)
//        BENCH_DB=postgres [BENCH_INSTANCES=2] ...   (a throwaway PostgreSQL cluster, initdb in a temp folder on a free
//        loopback port, stopped after; BENCH_INSTANCES relay instances on it and one data folder, the clients spread
//        over them, the upload sent to the first and the download taken from the last)
// Needs the built workspaces (npm run build) and free disk for about three times the batch. It measures; it asserts
// nothing about speed.
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadAgent } from "./lib/bench-http.mjs";
import { runLoad } from "./lib/bench-load.mjs";
import { procMemMiB, watchProcess } from "./lib/bench-proc.mjs";

// The built workspaces (cms, pki, and the CLI's HTTP client behind bench-relay.mjs): a clear message when missing.
let built;
try {
  built = await Promise.all([
    import("@sealpost/cms"),
    import("@sealpost/pki"),
    import("./lib/bench-relay.mjs"),
    import("@sealpost/client"),
    import("@sealpost/client/node"),
  ]);
} catch (e) {
  process.stderr.write(`bench-server: error: cannot load the built sealpost workspaces: ${e.message}\n`);
  process.stderr.write("bench-server: hint: run `npm run build` first.\n");
  process.exit(1);
}
const [{ sealFile }, { parseCertificates }, relayLib, { SealpostClient }, { fileBody, httpFetch, saveDownload }] =
  built;
const { CATEGORY, fixtureStaff, loginAs, registerFixtures, signingKey, startRelay } = relayLib;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "bench-out");
const SENDER = "soc-chen";
const RECEIVER = "tax-wang";

/** A whole number of 1 or more from the environment, or `fallback`. */
function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${name} must be a whole number of 1 or more, not "${v}".`);
  return Number(v);
}

async function sha256File(file) {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest("hex");
}

const say = (text) => process.stdout.write(`${text}\n`);
const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

let uploadSeq = 0;
/** A case registration from `fromAgency` to the other fixture agency (unique upload number). */
function caseRequest(fromAgency, recordCount) {
  uploadSeq++;
  return {
    category: CATEGORY,
    receivingAgency: fromAgency === "KHH-SOC" ? "KHH-TAX" : "KHH-SOC",
    recordCount,
    uploadNo: `BENCH-${String(uploadSeq).padStart(6, "0")}`,
    remarks: "benchmark case (fictional test data)",
  };
}

/**
 * Times `fn` while watching the server process; returns its value with seconds, the server's peak RSS and CPU
 * seconds, this process's CPU seconds (the client side: on a small machine it competes with the server), and the
 * 1-minute load average at the start (other work on the machine slows the server down without costing it CPU time).
 */
async function timedOnServer(relay, what, fn) {
  const watches = relay.pids.map((pid) => watchProcess(pid));
  const loadAverage = os.loadavg()[0];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // A server that died explains a failure of fn() better than fn's own error (its exit may be reported a moment later).
  const died = () => relay.exited() && new Error(`the server stopped during the ${what} (${relay.exited()})`);
  let value;
  try {
    value = await fn();
  } catch (e) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    throw died() || e;
  }
  if (died()) throw died();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const servers = watches.map((w) => w.stop());
  return {
    value,
    seconds,
    // With several instances: the largest instance's peak, and the CPU time of all of them.
    peakRssMiB: Math.max(...servers.map((x) => x.peakRssMiB)),
    serverCpuSeconds: servers.reduce((n, x) => n + x.cpuSeconds, 0),
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    loadAverage,
  };
}

/** Phase 1: seal (not timed), then the streamed upload and download of the sealed file; returns the two rows. */
async function transferPhase(relay, work, input) {
  const sender = await loginAs(relay.url, SENDER);
  const profile = await sender.createCase({ body: caseRequest("KHH-SOC", 0) });
  const caseId = profile.case.id;
  // The CLI validates a profile's certificates with the user's own trust anchors before sealing; here the registry was
  // just filled by this script from the fixtures, so the certificates are used as the server returns them.
  const recipients = profile.recipients.map((r) => parseCertificates(r.certificate.pem)[0]);
  say(`case ${caseId}: sealing ${path.basename(input)} to ${profile.recipients.map((r) => r.email).join(", ")} ...`);
  const sealed = path.join(work, "payload.p7m");
  const seal = await sealFile(input, sealed, {
    recipients,
    signer: await signingKey(SENDER),
    manifest: {
      caseId,
      senderAgency: profile.case.senderAgency,
      receivingAgency: profile.case.receivingAgency,
      recordCount: 0,
      uploadNo: profile.case.uploadNo,
      fileName: path.basename(input),
      byteSize: statSync(input).size,
    },
  });
  const bytes = seal.outputBytes;
  const mb = bytes / 1e6;

  say(`uploading ${(bytes / 1024 ** 2).toFixed(0)} MiB as ${SENDER} ...`);
  const up = await timedOnServer(relay, "upload", async () => {
    const { body, size } = await fileBody(sealed);
    return sender.upload("payload", caseId, body, { size });
  });
  if (up.value.state !== "sent" || up.value.payload?.sha256 !== seal.outputSha256) {
    throw new Error(
      `upload: the server recorded sha256 ${up.value.payload?.sha256} (case ${up.value.state}); the sealed file's is ${seal.outputSha256}`,
    );
  }
  rmSync(sealed, { force: true });

  say(`downloading as ${RECEIVER} ...`);
  // With several instances the download goes to the last one (the upload went to the first).
  const receiver = await loginAs(relay.urls.at(-1), RECEIVER);
  const downloaded = path.join(work, "download.p7m");
  const down = await timedOnServer(relay, "download", async () =>
    saveDownload(await receiver.download("payload", caseId), downloaded),
  );
  const onDisk = await sha256File(downloaded);
  if (down.value.size !== bytes || onDisk !== seal.outputSha256) {
    throw new Error(
      `download: got ${down.value.size} bytes with sha256 ${onDisk}; uploaded ${bytes} bytes with ${seal.outputSha256}`,
    );
  }
  rmSync(downloaded, { force: true });
  say(`sha256 ${seal.outputSha256} sealed = stored = downloaded`);
  const row = (op, t) => ({
    tool: "server",
    op,
    bytes,
    seconds: t.seconds,
    mbPerSec: mb / t.seconds,
    peakRssMiB: t.peakRssMiB,
    serverCpuSeconds: t.serverCpuSeconds,
    clientCpuSeconds: t.clientCpuSeconds,
    loadAverage: t.loadAverage,
  });
  return { rows: [row("upload", up), row("download", down)], caseId };
}

/** Phase 2: the case API under concurrent clients; returns its row. `caseIds` holds the cases registered so far. */
async function caseApiPhase(relay, settings, caseIds) {
  const staff = fixtureStaff();
  say(`logging in ${settings.clients} clients (${staff.map(([id]) => id).join(", ")}, round robin) ...`);
  const agent = loadAgent(settings.clients);
  try {
    const clients = [];
    for (let i = 0; i < settings.clients; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(settings.clients, i + 8); j++) {
        const [id, p] = staff[j % staff.length];
        batch.push(
          // With several instances, client j logs in at and talks to instance j mod n.
          loginAs(relay.urls[j % relay.urls.length], id).then((c) => ({
            api: new SealpostClient({
              server: relay.urls[j % relay.urls.length],
              token: c.token,
              fetch: httpFetch(agent),
            }),
            agency: p.agency,
          })),
        );
      }
      clients.push(...(await Promise.all(batch)));
    }
    // Warm-up, not timed: every client opens its connection (one cheap authenticated request each, all at once).
    await Promise.all(clients.map((c) => c.api.whoami()));
    for (let i = 0; i < settings.seedCases; i++) {
      const c = clients[i % clients.length];
      caseIds.push((await c.api.createCase({ body: caseRequest(c.agency, i) })).case.id);
    }

    const ops = {
      list: (c, i) => async () => {
        const box = Math.floor(i / 10) % 2 === 0 ? "inbox" : "outbox";
        const list = await c.api.listCases({ query: { box } });
        if (!Array.isArray(list)) throw new Error(`the ${box} of ${c.agency} is not a list`);
      },
      get: (c, i) => async () => {
        const id = caseIds[(i * 7919) % caseIds.length];
        const got = await c.api.getCase({ params: { id } });
        if (got?.id !== id) throw new Error(`asked for case ${id}, got ${got?.id}`);
      },
      create: (c, i) => async () => {
        const p = await c.api.createCase({ body: caseRequest(c.agency, i) });
        if (p?.case?.state !== "registered" || !(p.recipients?.length > 0)) {
          throw new Error("a case came back registered without recipients");
        }
        caseIds.push(p.case.id);
      },
    };
    const mix = ["list", "get", "list", "get", "list", "create", "list", "get", "list", "get"];
    say(
      `case API: ${settings.clients} concurrent clients, ${settings.requests} requests (list 5 : get 4 : create 1), ${caseIds.length} cases to start with ...`,
    );
    const t = await timedOnServer(relay, "case API load", () =>
      runLoad({
        clients,
        requests: settings.requests,
        shouldStop: () => relay.exited() !== undefined,
        operation: (i, c) => {
          const name = mix[i % mix.length];
          return { name, run: ops[name](c, i) };
        },
      }),
    );
    const r = t.value;
    return {
      tool: "server",
      op: "case-api",
      clients: settings.clients,
      requests: r.issued,
      stoppedAtTimeLimit: r.issued < settings.requests,
      seconds: r.seconds,
      requestsPerSec: r.requestsPerSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
      errors: r.errors,
      errorSamples: r.errorSamples,
      casesAtEnd: caseIds.length,
      peakRssMiB: t.peakRssMiB,
      serverCpuSeconds: t.serverCpuSeconds,
      clientCpuSeconds: t.clientCpuSeconds,
      serverCpuMsPerRequest: (t.serverCpuSeconds * 1000) / r.count,
      loadAverage: t.loadAverage,
      ops: r.ops,
    };
  } finally {
    agent.destroy();
  }
}

function printTable(rows, hwm) {
  say(
    DB === "postgres"
      ? `\nrelay server on 127.0.0.1 (${INSTANCES} child processes on one throwaway PostgreSQL database and data folder)`
      : "\nrelay server on 127.0.0.1 (child process, fresh SQLite data folder)",
  );
  say(
    "  op         size        time     rate          p50       p99   errors  server peak RSS  server CPU  client CPU",
  );
  for (const r of rows) {
    const cpu = `${fmt(r.serverCpuSeconds, 2).padStart(7)} s ${fmt(r.clientCpuSeconds, 2).padStart(9)} s`;
    const rss = `${fmt(r.peakRssMiB, 0).padStart(11)} MiB`;
    if (r.op === "upload" || r.op === "download") {
      say(
        `  ${r.op.padEnd(9)} ${`${fmt(r.bytes / 1024 ** 2, 0)} MiB`.padStart(9)} ${fmt(r.seconds, 2).padStart(8)} s ${`${fmt(r.mbPerSec, 0)} MB/s`.padStart(10)} ${"".padStart(24)} ${rss} ${cpu}`,
      );
      continue;
    }
    say(
      `  case API  ${`${r.requests} req`.padStart(9)} ${fmt(r.seconds, 2).padStart(8)} s ${`${fmt(r.requestsPerSec, 0)} req/s`.padStart(10)} ${`${fmt(r.p50Ms)} ms`.padStart(9)} ${`${fmt(r.p99Ms)} ms`.padStart(9)} ${String(r.errors).padStart(6)} ${rss} ${cpu}`,
    );
    for (const [name, o] of Object.entries(r.ops)) {
      say(
        `    ${name.padEnd(7)} ${`${o.count} req`.padStart(9)} ${"".padStart(21)} ${`${fmt(o.p50Ms)} ms`.padStart(9)} ${`${fmt(o.p99Ms)} ms`.padStart(9)} ${String(o.errors).padStart(6)}`,
      );
    }
    if (r.stoppedAtTimeLimit) say("  (stopped at the 120 s limit before the requested number of requests)");
    say(
      `  (${r.clients} concurrent clients; max latency ${fmt(r.maxMs)} ms; server CPU ${fmt(r.serverCpuMsPerRequest, 2)} ms per request; ${r.casesAtEnd} cases at the end; a list returns one page, at most 100 cases)`,
    );
  }
  say(`  server peak RSS over the whole run (VmHWM; registration and logins included): ${fmt(hwm, 0)} MiB`);
  say(
    `  machine: ${os.availableParallelism()} cores; 1-min load average at the start of ${rows.map((r) => `${r.op} ${fmt(r.loadAverage, 2)}`).join(", ")}`,
  );
  say("  (a load above the core count means other work competed with the server for CPU: compare server CPU times)");
}

/** The batch file and the settings from argv and the environment; throws a usage message. */
function parseArguments() {
  const input = process.argv[2];
  if (!input || process.argv.length > 3) throw new Error("usage: node scripts/bench-server.mjs <batch-file>");
  if (!statSync(input, { throwIfNoEntry: false })?.isFile()) throw new Error(`${input} is not a readable file.`);
  return {
    input,
    clients: envInt("BENCH_CLIENTS", 50),
    requests: envInt("BENCH_REQUESTS", 5000),
    seedCases: envInt("BENCH_SEED_CASES", 100),
    nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean),
  };
}

/** The database (BENCH_DB: sqlite, the default, or postgres on a throwaway cluster) and the relay instances. */
const DB = process.env.BENCH_DB ?? "sqlite";
/** BENCH_INSTANCES: relay instances on the one database (default 1 on SQLite, 2 on PostgreSQL; SQLite takes 1). */
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? (DB === "postgres" ? 2 : 1));

/**
 * Several started relays as one: `url` and `pid` of the first, `urls` and `pids` of all, `exited()` of the first
 * that ended, `stop()` stops them all.
 */
function group(relays) {
  return {
    get url() {
      return relays[0].url;
    },
    get pid() {
      return relays[0].pid;
    },
    get urls() {
      return relays.map((r) => r.url);
    },
    get pids() {
      return relays.map((r) => r.pid);
    },
    exited: () => relays.map((r) => r.exited()).find(Boolean),
    stderrTail: () => relays.map((r) => r.stderrTail()).join("\n"),
    stop: async () => {
      for (const r of relays) await r.stop();
    },
  };
}

async function main() {
  if (!["sqlite", "postgres"].includes(DB) || !(INSTANCES >= 1) || (DB === "sqlite" && INSTANCES !== 1)) {
    process.stderr.write("bench-server: error: BENCH_DB is sqlite (one instance) or postgres (BENCH_INSTANCES >= 1)\n");
    process.exitCode = 2;
    return;
  }
  let settings;
  try {
    settings = parseArguments();
  } catch (e) {
    process.stderr.write(`bench-server: error: ${e.message}\n`);
    process.exitCode = 2;
    return;
  }
  const { input, nodeArgs } = settings;
  const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-bench-server-"));
  let relay;
  let pg;
  const cleanup = async () => {
    await relay?.stop();
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    process.stderr.write(`bench-server: ${sig}: stopping the server and removing ${work}\n`);
    cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const dataDir = path.join(work, "data");
    const relays = [];
    relay = group(relays);
    let initArgs = [];
    if (DB === "postgres") {
      const { startPgCluster, createDatabase } = await import("./lib/pg-cluster.mjs");
      pg = await startPgCluster();
      const database = await createDatabase(pg.cluster, "sealpost_bench");
      initArgs = ["--db", database.url, "--db-password-file", database.passwordFile];
      say(`PostgreSQL: throwaway cluster on 127.0.0.1:${pg.cluster.port}, database ${database.name}`);
    }
    for (let i = 0; i < INSTANCES; i++) {
      relays.push(await startRelay(dataDir, nodeArgs, i === 0 ? { initArgs } : { init: false }));
    }
    say(`server ${relays.map((r) => `${r.url} (pid ${r.pid})`).join(", ")}, temporary folder ${work}`);
    await registerFixtures(relay.url);
    const { rows, caseId } = await transferPhase(relay, work, input);
    rows.push(await caseApiPhase(relay, settings, [caseId]));
    if (relay.exited()) throw new Error(`the server stopped during the benchmark (${relay.exited()})`);
    // VmHWM is updated lazily by the kernel and can trail a sampled VmRSS peak: report the larger.
    const hwm = Math.max(...relay.pids.map((pid) => procMemMiB(pid, "VmHWM")), ...rows.map((r) => r.peakRssMiB));
    for (const r of rows) Object.assign(r, { serverPeakRssRunMiB: hwm, db: DB, instances: INSTANCES });
    printTable(rows, hwm);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "server-results.json"), `${JSON.stringify(rows, null, 2)}\n`);
    say(`written: ${path.relative(root, path.join(outDir, "server-results.json"))}`);
    const api = rows.find((r) => r.op === "case-api");
    if (api.errors > 0) throw new Error(`${api.errors} case API requests failed, e.g. ${api.errorSamples.join("; ")}`);
  } catch (e) {
    const serverLog = relay?.stderrTail().trim();
    process.stderr.write(`bench-server: error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (serverLog) process.stderr.write(`bench-server: the server's last messages:\n${serverLog}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();

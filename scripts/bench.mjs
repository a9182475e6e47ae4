#!/usr/bin/env node
// Benchmarks sealing and opening one batch file with sealpost (through its CLI, as staff run it) against GnuPG
// (sign+encrypt, -z 0; decrypt+verify), age (encrypts only, no signature) and OpenSSL (open: `cms -decrypt` then
// `cms -verify`), on the same file in the same run, as pairs: each pair runs its two commands alternating
// A B A B for BENCH_ROUNDS rounds (default 5), so both see the same machine load. Reports per command the median
// time and peak RSS, per pair the ratio A/B of the medians and the median of the per-round ratios, the load average
// at the start and the end; also sealing to 50 RSA recipients versus 1, and what the durable open (fsync in the
// background, then before the rename) costs against a non-durable one (in process, packages/cms/test/perf-drive.mjs).
// Writes bench-out/results.json and bench-out/results.md.
//
// Usage: npm run bench                      (1 GiB batch, the measure)
//        BENCH_SIZE=256M npm run bench      (a smaller file)
//        BENCH_ROUNDS=7 npm run bench       (more rounds)
//        BENCH_ONLY=gnupg,age npm run bench (only the pairs against these tools: gnupg | age | openssl | recipients | durable)
//        BENCH_SERVER=0 npm run bench       (skip the relay-server benchmark when present)
//        BENCH_TOKEN_EC=0 npm run bench     (skip scripts/bench-token-ec.mjs: token operations per open, 50 EC recipients)
//        BENCH_TRANSFER_RSS=0 npm run bench (skip scripts/bench-transfer-rss.mjs: peak RSS of sealpost send/receive/reply/result)
// Peak RSS comes from GNU time (%M: the largest process of the command, pipelines included). Nothing here is a test:
// it asserts nothing about speed; it measures and reports.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "bench-out");
const pki = path.join(root, "fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pki, "manifest.json"), "utf8"));
const sizeArg = process.env.BENCH_SIZE ?? "1G";
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : undefined;
const want = (tool) => !only || only.has(tool);
const timeBin = "/usr/bin/time";

mkdirSync(out, { recursive: true });

const people = Object.entries(manifest.people);
const [senderId, sender] = people.find(([, p]) => p.agency === "KHH-SOC" && p.role === "staff");
const [receiverId, receiver] = people.find(([, p]) => p.agency === "KHH-TAX" && p.role === "staff");
const P = (rel) => path.join(pki, rel);

function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`BENCH_SIZE: ${s}`);
  return Number(m[1]) * { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

async function sha256(file) {
  const h = createHash("sha256");
  for await (const c of createReadStream(file)) h.update(c);
  return h.digest("hex");
}

/** Runs a command under GNU time; returns seconds and peak RSS (MiB). Throws with stderr when it fails. */
function timed(label, cmd, args, env = {}) {
  const tf = path.join(out, "time.txt");
  const r = spawnSync(timeBin, ["-f", "%e %M", "-o", tf, cmd, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`${label} failed (exit ${r.status}): ${r.stderr.toString().slice(-2000)}`);
  }
  const [secs, kb] = readFileSync(tf, "utf8").trim().split(/\s+/).slice(-2).map(Number);
  return { seconds: secs, peakRssMiB: kb / 1024 };
}

const bytes = parseSize(sizeArg);
const input = path.join(out, `batch-${sizeArg}.csv`);
if (!existsSync(input) || statSync(input).size < bytes) {
  console.log(`generating ${sizeArg} batch at ${path.relative(root, input)} ...`);
  execFileSync(process.execPath, [path.join(root, "scripts/make-batch.mjs"), "--bytes", sizeArg, "-o", input], {
    stdio: "inherit",
  });
}
const size = statSync(input).size;
const inputHash = await sha256(input);
const mb = size / 1e6;
console.log(`input: ${(size / 1024 ** 2).toFixed(0)} MiB, sha256 ${inputHash.slice(0, 16)}...`);
console.log(`sender ${senderId} (${sender.name}), receiver ${receiverId} (${receiver.name})`);
console.log(
  `machine: ${execFileSync("nproc").toString().trim()} cores, node ${process.version}, ${execFileSync("openssl", ["version"]).toString().trim()}`,
);

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const loadStart = load();
console.log(`load average at start: ${loadStart} (1, 5, 15 min); ${rounds} rounds per pair, A B A B`);
const work = path.join(out, "work");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const W = (name) => path.join(work, name);

// --- the tools' keys and one sealed file per tool, made once for the open pairs -----------------------------
const cli = path.join(root, "cli/bin/sealpost.js");
const sealpostSealArgs = (output, recipients = [P(receiver.encrypt.cert)]) => [
  cli,
  "seal",
  input,
  ...recipients.flatMap((r) => ["--to", r]),
  "--key",
  P(sender.p12),
  "--trust",
  P(manifest.root.cert),
  "--intermediate",
  P(manifest.intermediate.cert),
  "--crl",
  P(manifest.intermediate.crl),
  "--crl",
  P(manifest.root.crl),
  "-o",
  output,
  "--quiet",
];
const sealpostEnvSeal = { SEALPOST_PIN: sender.pin };
const sealpostOpenArgs = (sealed, opened) => [
  cli,
  "open",
  sealed,
  "--key",
  P(receiver.p12),
  "--trust",
  P(manifest.root.cert),
  "--intermediate",
  P(manifest.intermediate.cert),
  "--crl",
  P(manifest.intermediate.crl),
  "--crl",
  P(manifest.root.crl),
  "-o",
  opened,
  "--quiet",
];
const sealpostEnvOpen = { SEALPOST_PIN: receiver.pin };
const sealpostSealed = W("sealpost.p7m");
timed("sealpost seal", process.execPath, sealpostSealArgs(sealpostSealed), sealpostEnvSeal);

const gpgHome = W("gnupg");
mkdirSync(gpgHome, { mode: 0o700 });
const gpgEnv = { GNUPGHOME: gpgHome };
const gpgBase = ["--batch", "--yes", "--trust-model", "always"];
const gpgSealArgs = (o) => [
  ...gpgBase,
  "-z",
  "0",
  "-u",
  "bench-sender@example.test",
  "-r",
  "bench-receiver@example.test",
  "--sign",
  "--encrypt",
  "-o",
  o,
  input,
];
const gpgSealed = W("gnupg.gpg");
if (want("gnupg")) {
  const g = (args) =>
    execFileSync("gpg", ["--batch", "--quiet", ...args], { env: { ...process.env, ...gpgEnv }, stdio: "pipe" });
  for (const [who, use] of [
    ["bench-sender@example.test", "sign"],
    ["bench-receiver@example.test", "encr"],
  ]) {
    g(["--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", who, "rsa2048", use, "never"]);
  }
  timed("gpg seal", "gpg", gpgSealArgs(gpgSealed), gpgEnv);
}

const ageKey = W("age.key");
const ageSealed = W("age.age");
let ageRecipient;
if (want("age")) {
  execFileSync("age-keygen", ["-o", ageKey], { stdio: "pipe" });
  ageRecipient = /public key: (\S+)/.exec(readFileSync(ageKey, "utf8"))[1];
  timed("age seal", "age", ["-r", ageRecipient, "-o", ageSealed, input]);
}

const opensslSealed = W("openssl.p7m");
const opensslInner = W("openssl-inner.der");
// OpenSSL 3.0's `cms -verify` has no -untrusted and builds no chain through -certfile: give it root + intermediate.
const caBundle = W("openssl-ca-bundle.pem");
if (want("openssl")) {
  writeFileSync(
    caBundle,
    readFileSync(P(manifest.intermediate.cert), "utf8") + readFileSync(P(manifest.root.cert), "utf8"),
  );
  const sealCmd =
    `openssl cms -sign -binary -nodetach -md sha256 -in ${q(input)} -signer ${q(P(sender.sign.cert))} -inkey ${q(P(sender.sign.key))} -outform DER` +
    ` | openssl cms -encrypt -binary -aes-256-gcm -inform DER -outform DER -out ${q(opensslSealed)} -recip ${q(P(receiver.encrypt.cert))} -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256`;
  timed("openssl seal", "bash", ["-o", "pipefail", "-c", sealCmd]);
}

const fiftyCerts = [];
if (want("recipients")) {
  // Issued by the fixture intermediate (its throwaway test key), so seal's recipient check passes as for a real one.
  for (let i = 0; i < 50; i++) {
    const c = W(`rcpt${i}.pem`);
    const csr = W(`rcpt${i}.csr`);
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        W(`rcpt${i}.key`),
        "-subj",
        `/CN=bench recipient ${i} (test data)`,
        "-out",
        csr,
      ],
      { stdio: "ignore" },
    );
    const ext = W(`rcpt${i}.ext`);
    writeFileSync(ext, "keyUsage=critical,keyEncipherment\nbasicConstraints=critical,CA:FALSE\n");
    execFileSync(
      "openssl",
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        P(manifest.intermediate.cert),
        "-CAkey",
        P(manifest.intermediate.key),
        "-set_serial",
        String(900000 + i),
        "-days",
        "3650",
        "-extfile",
        ext,
        "-out",
        c,
      ],
      { stdio: "ignore" },
    );
    fiftyCerts.push(c);
  }
  fiftyCerts[0] = P(receiver.encrypt.cert);
}
const perfDrive = path.join(root, "packages/cms/test/perf-drive.mjs");
if (want("durable")) {
  // perf-drive's open mode opens WORKDIR/<input>.perf.p7m: seal it once.
  execFileSync(process.execPath, [perfDrive, input, "seal", work], { stdio: "ignore" });
}

// --- commands and pairs ----------------------------------------------------------------------------------------
/** A command: run() times it (GNU time); check(), once after the first run, proves its output. */
const opened = W("opened.out");
const command = (label, cmd, args, env = {}, output = opened, check = undefined) => ({
  label,
  run: () => {
    rmSync(output, { force: true });
    const r = timed(label, cmd, args, env);
    return r;
  },
  output,
  check,
  times: [],
  rss: [],
});
const sameAsInput = async (file) => {
  if ((await sha256(file)) !== inputHash) throw new Error(`${file}: opened content differs from the input`);
};
const sealOut = W("sealed.out");
const cmds = {
  sealpostSeal: command("sealpost seal", process.execPath, sealpostSealArgs(sealOut), sealpostEnvSeal, sealOut),
  sealpostSeal50: command(
    "sealpost seal, 50 recipients",
    process.execPath,
    sealpostSealArgs(sealOut, fiftyCerts),
    sealpostEnvSeal,
    sealOut,
  ),
  sealpostOpen: command(
    "sealpost open",
    process.execPath,
    sealpostOpenArgs(sealpostSealed, opened),
    sealpostEnvOpen,
    opened,
    sameAsInput,
  ),
  gpgSeal: command("gpg sign+encrypt", "gpg", gpgSealArgs(sealOut), gpgEnv, sealOut),
  gpgOpen: command(
    "gpg decrypt+verify",
    "gpg",
    [...gpgBase, "-o", opened, "-d", gpgSealed],
    gpgEnv,
    opened,
    sameAsInput,
  ),
  ageSeal: command("age encrypt", "age", ["-r", ageRecipient ?? "", "-o", sealOut, input], {}, sealOut),
  ageOpen: command("age decrypt", "age", ["-d", "-i", ageKey, "-o", opened, ageSealed], {}, opened, sameAsInput),
  opensslOpen: command(
    "openssl decrypt, verify",
    "bash",
    [
      "-o",
      "pipefail",
      "-c",
      `openssl cms -decrypt -binary -inform DER -in ${q(opensslSealed)} -recip ${q(P(receiver.encrypt.cert))} -inkey ${q(P(receiver.encrypt.key))} -out ${q(opensslInner)}` +
        ` && openssl cms -verify -binary -inform DER -in ${q(opensslInner)} -CAfile ${q(caBundle)} -out ${q(opened)} && rm -f ${q(opensslInner)}`,
    ],
    {},
    opened,
    sameAsInput,
  ),
  durableOpen: command("open durable (in process)", process.execPath, [perfDrive, input, "open", work], {
    DURABLE: "1",
  }),
  plainOpen: command("open not durable (in process)", process.execPath, [perfDrive, input, "open", work], {
    DURABLE: "0",
  }),
};
const pairs = [
  { name: "seal vs GnuPG", tool: "gnupg", a: cmds.sealpostSeal, b: cmds.gpgSeal, target: "<= 0.70" },
  { name: "seal vs age", tool: "age", a: cmds.sealpostSeal, b: cmds.ageSeal, target: "<= 1.50" },
  { name: "open vs GnuPG", tool: "gnupg", a: cmds.sealpostOpen, b: cmds.gpgOpen, target: "<= 0.70" },
  { name: "open vs age", tool: "age", a: cmds.sealpostOpen, b: cmds.ageOpen, target: "<= 1.50" },
  { name: "open vs OpenSSL", tool: "openssl", a: cmds.sealpostOpen, b: cmds.opensslOpen },
  { name: "50 recipients vs 1", tool: "recipients", a: cmds.sealpostSeal50, b: cmds.sealpostSeal, target: "< 1.05" },
  { name: "durable open vs not", tool: "durable", a: cmds.durableOpen, b: cmds.plainOpen },
].filter((p) => want(p.tool));
for (const p of pairs) p.ratios = [];

const checked = new Set();
for (let round = 1; round <= rounds; round++) {
  for (const p of pairs) {
    const t = {};
    for (const c of [p.a, p.b]) {
      const r = c.run();
      c.times.push(r.seconds);
      c.rss.push(r.peakRssMiB);
      t[c.label] = r.seconds;
      if (c.check && !checked.has(c)) {
        await c.check(c.output);
        checked.add(c);
      }
      rmSync(c.output, { force: true });
    }
    p.ratios.push(t[p.a.label] / t[p.b.label]);
    console.log(
      `round ${round} ${p.name.padEnd(22)} ${p.a.label} ${t[p.a.label].toFixed(2)} s, ${p.b.label} ${t[p.b.label].toFixed(2)} s`,
    );
  }
}
const loadEnd = load();

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rows = pairs.map((p) => {
  const a = median(p.a.times);
  const b = median(p.b.times);
  return {
    pair: p.name,
    a: p.a.label,
    b: p.b.label,
    aSeconds: a,
    bSeconds: b,
    aMBps: mb / a,
    aPeakRssMiB: Math.max(...p.a.rss),
    bPeakRssMiB: Math.max(...p.b.rss),
    ratio: a / b,
    medianRoundRatio: median(p.ratios),
    target: p.target,
  };
});
const lines = [
  `${(size / 1024 ** 2).toFixed(0)} MiB batch, ${rounds} rounds A B A B, medians; load average ${loadStart} at start, ${loadEnd} at end (1, 5, 15 min)`,
  "",
  "| pair | A | B | A median | B median | A/B (medians) | A/B (median of rounds) | target | peak RSS A / B |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...rows.map(
    (r) =>
      `| ${r.pair} | ${r.a} | ${r.b} | ${r.aSeconds.toFixed(2)} s | ${r.bSeconds.toFixed(2)} s | ${r.ratio.toFixed(2)} | ${r.medianRoundRatio.toFixed(2)} | ${r.target ?? ""} | ${r.aPeakRssMiB.toFixed(0)} / ${r.bPeakRssMiB.toFixed(0)} MiB |`,
  ),
];
console.log(`\n${lines.join("\n")}`);
writeFileSync(path.join(out, "results.md"), `${lines.join("\n")}\n`);
const results = rows;
rmSync(work, { recursive: true, force: true });

const serverBench = path.join(root, "scripts/bench-server.mjs");
if (process.env.BENCH_SERVER !== "0" && existsSync(serverBench) && !only) {
  console.log("\nrelay server:");
  const r = spawnSync(process.execPath, [serverBench, input], { stdio: ["ignore", "pipe", "inherit"] });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error("server benchmark failed");
  try {
    results.push(...JSON.parse(readFileSync(path.join(out, "server-results.json"), "utf8")));
  } catch {}
}

// Peak RSS of the CLI's round trip (send, receive, reply, result) through a relay server, on the same batch.
const transferRssBench = path.join(root, "scripts/bench-transfer-rss.mjs");
if (process.env.BENCH_TRANSFER_RSS !== "0" && !only) {
  console.log("\nsealpost send/receive/reply/result through a relay server (peak RSS):");
  const r = spawnSync(process.execPath, [transferRssBench, input], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error("transfer RSS benchmark failed");
  try {
    results.push(...JSON.parse(readFileSync(path.join(out, "transfer-rss-results.json"), "utf8")));
  } catch {}
}

const tokenEcBench = path.join(root, "scripts/bench-token-ec.mjs");
if (process.env.BENCH_TOKEN_EC !== "0" && !only) {
  console.log("\nPKCS#11 tokens and EC recipients:");
  const r = spawnSync(process.execPath, [tokenEcBench, input], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error("token/EC benchmark failed");
}

writeFileSync(
  path.join(out, "results.json"),
  JSON.stringify({ size, sizeArg, rounds, loadStart, loadEnd, date: new Date().toISOString(), results }, null, 2),
);
console.log(`\nwritten: ${path.relative(root, path.join(out, "results.json"))}`);

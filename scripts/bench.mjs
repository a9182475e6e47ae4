#!/usr/bin/env node
// Benchmarks sealing and opening one batch file with sealpost (through its CLI, as staff run it), with OpenSSL
// (`openssl cms -sign` piped into `openssl cms -encrypt`; `-decrypt` then `-verify`) and with GnuPG (sign+encrypt,
// -z 0), on the same file in the same run. Prints MB/s, peak RSS and the ratios; writes bench-out/results.json.
//
// Usage: npm run bench                      (1 GiB batch, the measure)
//        BENCH_SIZE=256M npm run bench      (a smaller file)
//        BENCH_ONLY=sealpost npm run bench  (one tool: sealpost | openssl | gnupg | age)
//        BENCH_SERVER=0 npm run bench       (skip the relay-server benchmark when present)
//        BENCH_TOKEN_EC=0 npm run bench     (skip scripts/bench-token-ec.mjs: token operations per open, 50 EC recipients)
// Peak RSS comes from GNU time (%M: the largest process of the command, pipelines included). Nothing here is a test:
// it asserts nothing about speed; it measures and reports.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

const results = [];
function record(tool, op, r, outFile) {
  const row = { tool, op, seconds: r.seconds, mbPerSec: mb / r.seconds, peakRssMiB: r.peakRssMiB };
  if (outFile) row.outputBytes = statSync(outFile).size;
  results.push(row);
  console.log(
    `${tool.padEnd(9)} ${op.padEnd(5)} ${r.seconds.toFixed(2).padStart(7)} s ${row.mbPerSec.toFixed(0).padStart(6)} MB/s  peak RSS ${r.peakRssMiB.toFixed(0).padStart(5)} MiB`,
  );
}
async function checkSame(tool, file) {
  const h = await sha256(file);
  if (h !== inputHash) throw new Error(`${tool}: opened content differs from the input`);
  rmSync(file, { force: true });
}

const cli = path.join(root, "cli/bin/sealpost.js");
if (want("sealpost")) {
  const sealed = path.join(out, "sealpost.p7m");
  const opened = path.join(out, "sealpost.out");
  rmSync(sealed, { force: true });
  rmSync(opened, { force: true });
  const seal = timed(
    "sealpost seal",
    process.execPath,
    [
      cli,
      "seal",
      input,
      "--to",
      P(receiver.encrypt.cert),
      "--key",
      P(sender.p12),
      "--trust",
      P(manifest.root.cert),
      "--crl",
      P(manifest.intermediate.crl),
      "--crl",
      P(manifest.root.crl),
      "-o",
      sealed,
      "--quiet",
    ],
    { SEALPOST_PIN: sender.pin },
  );
  record("sealpost", "seal", seal, sealed);
  const open = timed(
    "sealpost open",
    process.execPath,
    [
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
    ],
    { SEALPOST_PIN: receiver.pin },
  );
  record("sealpost", "open", open);
  await checkSame("sealpost", opened);
  rmSync(sealed, { force: true });
}

if (want("openssl")) {
  const sealed = path.join(out, "openssl.p7m");
  const inner = path.join(out, "openssl-inner.der");
  // OpenSSL 3.0's `cms -verify` has no -untrusted and builds no chain through -certfile: give it root + intermediate.
  const caBundle = path.join(out, "openssl-ca-bundle.pem");
  writeFileSync(
    caBundle,
    readFileSync(P(manifest.intermediate.cert), "utf8") + readFileSync(P(manifest.root.cert), "utf8"),
  );
  const opened = path.join(out, "openssl.out");
  const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
  const sealCmd =
    `openssl cms -sign -binary -nodetach -md sha256 -in ${q(input)} -signer ${q(P(sender.sign.cert))} -inkey ${q(P(sender.sign.key))} -outform DER` +
    ` | openssl cms -encrypt -binary -aes-256-gcm -inform DER -outform DER -out ${q(sealed)} -recip ${q(P(receiver.encrypt.cert))} -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256`;
  record("openssl", "seal", timed("openssl seal", "bash", ["-o", "pipefail", "-c", sealCmd]), sealed);
  const openCmd =
    `openssl cms -decrypt -binary -inform DER -in ${q(sealed)} -recip ${q(P(receiver.encrypt.cert))} -inkey ${q(P(receiver.encrypt.key))} -out ${q(inner)}` +
    ` && openssl cms -verify -binary -inform DER -in ${q(inner)} -CAfile ${q(caBundle)} -out ${q(opened)}`;
  record("openssl", "open", timed("openssl open", "bash", ["-o", "pipefail", "-c", openCmd]));
  await checkSame("openssl", opened);
  rmSync(sealed, { force: true });
  rmSync(inner, { force: true });
}

if (want("gnupg")) {
  const home = path.join(out, "gnupg");
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { mode: 0o700 });
  const env = { GNUPGHOME: home };
  const g = (args) =>
    execFileSync("gpg", ["--batch", "--quiet", ...args], { env: { ...process.env, ...env }, stdio: "pipe" });
  g([
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    "",
    "--quick-gen-key",
    "bench-sender@example.test",
    "rsa2048",
    "sign",
    "never",
  ]);
  g([
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    "",
    "--quick-gen-key",
    "bench-receiver@example.test",
    "rsa2048",
    "encr",
    "never",
  ]);
  const sealed = path.join(out, "gnupg.gpg");
  const opened = path.join(out, "gnupg.out");
  rmSync(sealed, { force: true });
  const seal = timed(
    "gpg seal",
    "gpg",
    [
      "--batch",
      "--yes",
      "--trust-model",
      "always",
      "-z",
      "0",
      "-u",
      "bench-sender@example.test",
      "-r",
      "bench-receiver@example.test",
      "--sign",
      "--encrypt",
      "-o",
      sealed,
      input,
    ],
    env,
  );
  record("gnupg", "seal", seal, sealed);
  const open = timed(
    "gpg open",
    "gpg",
    ["--batch", "--yes", "--trust-model", "always", "-o", opened, "-d", sealed],
    env,
  );
  record("gnupg", "open", open);
  await checkSame("gnupg", opened);
  rmSync(sealed, { force: true });
  rmSync(home, { recursive: true, force: true });
}

if (want("age") && spawnSync("age", ["--version"]).status === 0) {
  const keyFile = path.join(out, "age.key");
  rmSync(keyFile, { force: true });
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
  const recipient = /public key: (\S+)/.exec(readFileSync(keyFile, "utf8"))[1];
  const sealed = path.join(out, "age.age");
  const opened = path.join(out, "age.out");
  record("age", "seal", timed("age seal", "age", ["-r", recipient, "-o", sealed, input]), sealed);
  record("age", "open", timed("age open", "age", ["-d", "-i", keyFile, "-o", opened, sealed]));
  await checkSame("age (encrypts only, no signature)", opened);
  rmSync(sealed, { force: true });
  rmSync(keyFile, { force: true });
}

const get = (tool, op) => results.find((r) => r.tool === tool && r.op === op);
console.log("\nratios (time of the other tool / time of sealpost; > 1 means sealpost is faster):");
for (const other of ["openssl", "gnupg", "age"]) {
  for (const op of ["seal", "open"]) {
    const a = get("sealpost", op);
    const b = get(other, op);
    if (a && b) console.log(`  ${op} vs ${other}: ${(b.seconds / a.seconds).toFixed(2)}x`);
  }
}

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

const tokenEcBench = path.join(root, "scripts/bench-token-ec.mjs");
if (process.env.BENCH_TOKEN_EC !== "0" && !only) {
  console.log("\nPKCS#11 tokens and EC recipients:");
  const r = spawnSync(process.execPath, [tokenEcBench, input], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error("token/EC benchmark failed");
}

writeFileSync(
  path.join(out, "results.json"),
  JSON.stringify({ size, sizeArg, date: new Date().toISOString(), results }, null, 2),
);
console.log(`\nwritten: ${path.relative(root, path.join(out, "results.json"))}`);

#!/usr/bin/env node
// Issue-15 measures, printed and written to bench-out/token-ec-results.json (nothing is asserted):
// 1. token operations per opened file: files sealed to an RSA card (tax-wang) and an EC card (tax-chiu) are opened
//    with the keys on SoftHSM2 tokens (scripts/make-token.sh), counting C_Sign/C_Decrypt/C_DeriveKey calls;
// 2. sealing INPUT (the benchmark batch, 1 GiB by default) to 50 EC P-256 recipients versus to one: CPU time and
//    wall time of sealFile in this process, after one warm-up, interleaved, median of BENCH_RUNS (default 3) each, and
//    the difference in percent.
//
// Usage: node scripts/bench-token-ec.mjs INPUT   (run by `npm run bench`; BENCH_TOKEN_EC=0 skips it there)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openFile, sealFile } from "@sealpost/cms";
import { loadKeystore, openKeystore, parseCertificate, pickKey, tokenOperationCount } from "@sealpost/pki";
import { makeTokens } from "./lib/make-token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pki = path.join(root, "fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pki, "manifest.json"), "utf8"));
const input = process.argv[2];
if (!input) {
  process.stderr.write("usage: node scripts/bench-token-ec.mjs INPUT\n");
  process.exit(2);
}
const runs = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(path.join(tmpdir(), "sealpost-bench-tec-"));
const results = { date: new Date().toISOString(), input: path.basename(input), inputBytes: statSync(input).size };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const acceptAll = { validate: async (c) => ({ path: [c], checks: [], revocation: undefined, warnings: [] }) };

try {
  const signer = pickKey(
    await loadKeystore(path.join(pki, manifest.people["soc-chen"].p12), { pin: manifest.people["soc-chen"].pin }),
    "sign",
  );

  // 1. token operations per opened file
  const { module } = makeTokens(path.join(work, "cards"), ["tax-wang", "tax-chiu"]);
  const small = path.join(work, "small.csv");
  writeFileSync(small, "id,name\n".repeat(20000));
  const cert = (id) => parseCertificate(readFileSync(path.join(pki, manifest.people[id].encrypt.cert)));
  const files = 10;
  const perFile = {};
  for (const [id, opts] of [
    ["tax-wang", {}],
    ["tax-wang", { keyTransport: "pkcs1", cipher: "aes-256-cbc" }],
    ["tax-chiu", {}],
  ]) {
    const label = `${id}${opts.keyTransport ? " (RSAES-PKCS1-v1_5, CBC)" : ""}`;
    const ks = await openKeystore(`pkcs11:token=${id}?module-path=${module}`, {
      pin: async () => manifest.people[id].pin,
    });
    try {
      const sealed = [];
      for (let i = 0; i < files; i++) {
        const f = path.join(work, `t${i}.p7m`);
        await sealFile(small, f, { recipients: [cert("tax-wang"), cert("tax-chiu")], signer, force: true, ...opts });
        sealed.push(f);
      }
      const before = tokenOperationCount();
      const t0 = performance.now();
      let name = "";
      for (const f of sealed) {
        const r = await openFile(f, path.join(work, "out.csv"), { keys: ks.entries, trust: acceptAll, force: true });
        name = r.keyTransport;
      }
      const ms = (performance.now() - t0) / files;
      perFile[label] = {
        keyTransport: name,
        tokenOperationsPerFile: (tokenOperationCount() - before) / files,
        msPerFile: ms,
      };
      console.log(
        `  open with the ${label} card: ${perFile[label].tokenOperationsPerFile} token operation(s) per file (${name}), ${ms.toFixed(1)} ms per file`,
      );
    } finally {
      await ks.close?.();
    }
  }
  results.tokenOpen = perFile;

  // 2. one versus 50 EC recipients
  const ecCerts = [];
  for (let i = 0; i < 50; i++) {
    const c = path.join(work, `ec${i}.pem`);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        path.join(work, `ec${i}.key`),
        "-subj",
        `/CN=bench recipient ${i} (test)`,
        "-addext",
        "keyUsage=critical,keyAgreement",
        "-days",
        "3650",
        "-out",
        c,
      ],
      { stdio: "ignore" },
    );
    ecCerts.push(parseCertificate(readFileSync(c)));
  }
  const sealOut = path.join(work, "big.p7m");
  const sealOnce = async (recipients) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await sealFile(input, sealOut, { recipients, signer, force: true });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    rmSync(sealOut, { force: true });
    return { cpu: (c.user + c.system) / 1e6, wall };
  };
  await sealOnce(ecCerts.slice(0, 1)); // warm-up (JIT, page cache), not counted
  const samples = { one: [], fifty: [] };
  for (let i = 0; i < runs; i++) {
    // interleaved, so that a change in the machine's load falls on both alike
    samples.one.push(await sealOnce(ecCerts.slice(0, 1)));
    samples.fifty.push(await sealOnce(ecCerts));
  }
  const summary = (xs) => ({
    cpuSeconds: median(xs.map((x) => x.cpu)),
    wallSeconds: median(xs.map((x) => x.wall)),
    runs,
  });
  const one = summary(samples.one);
  const fifty = summary(samples.fifty);
  const over = (a, b) => ((b - a) / a) * 100;
  results.ecRecipients = {
    one,
    fifty,
    cpuOverheadPercent: over(one.cpuSeconds, fifty.cpuSeconds),
    wallOverheadPercent: over(one.wallSeconds, fifty.wallSeconds),
  };
  console.log(
    `  seal ${(results.inputBytes / 2 ** 20).toFixed(0)} MiB to 1 EC recipient: ${one.cpuSeconds.toFixed(2)} s CPU, ${one.wallSeconds.toFixed(2)} s wall; to 50: ${fifty.cpuSeconds.toFixed(2)} s CPU, ${fifty.wallSeconds.toFixed(2)} s wall (medians of ${runs}): ${results.ecRecipients.cpuOverheadPercent.toFixed(1)}% more CPU, ${results.ecRecipients.wallOverheadPercent.toFixed(1)}% more wall time`,
  );
  const out = path.join(root, "bench-out");
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, "token-ec-results.json"), JSON.stringify(results, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}

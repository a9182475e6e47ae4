// Not a test: a driver for profiling and timing the byte path of the BUILT package in process, without the CLI's
// start-up. Seals FILE with sealFile, then opens it with openFile, and prints wall time, MB/s, CPU time (all
// threads, and the main thread alone from /proc) and peak RSS.
//
// Usage: node packages/cms/test/perf-drive.mjs FILE [seal|open|both] [WORKDIR]   (DURABLE=0: open without the sync)
//   FILE     e.g. from `node scripts/make-batch.mjs --bytes 256M -o /tmp/perf.csv`
//   WORKDIR  where FILE.p7m and the opened copy go (default: the system temp folder); they are removed at the end
// Profile: node --cpu-prof --cpu-prof-dir=prof packages/cms/test/perf-drive.mjs /tmp/perf.csv seal
import { createPrivateKey } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openFile, sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";

const [input, mode = "both", dir = tmpdir()] = process.argv.slice(2);
if (!input) {
  console.error("usage: node perf-drive.mjs FILE [seal|open|both] [WORKDIR]");
  process.exit(2);
}
const pki = fileURLToPath(new URL("../../../fixtures/pki/", import.meta.url));
const cert = (p) => parseCertificate(readFileSync(join(pki, p), "utf8"));
const gca = cert("intermediate/gca.cert.pem");
const entry = (who, kind) => ({
  cert: cert(`people/${who}/${kind}.cert.pem`),
  privateKey: createPrivateKey(readFileSync(join(pki, `people/${who}/${kind}.key.pem`))),
  chain: [gca],
});
const signer = entry("soc-chen", "sign");
const recipient = entry("tax-wang", "encrypt");
// Trust is not what is measured here: accept the fixture signer as is.
const trust = { validate: async (c) => ({ path: [c, gca], checks: [], revocation: undefined, warnings: [] }) };

/** CPU seconds of the main thread (utime + stime from /proc, in clock ticks of 10 ms). */
function mainThreadCpu() {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function timed(label, run) {
  const t = performance.now();
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpu();
  await run();
  const s = (performance.now() - t) / 1000;
  const c = process.cpuUsage(c0);
  const mb = statSync(input).size / 1e6;
  console.log(
    `${label} ${s.toFixed(2)} s ${(mb / s).toFixed(0)} MB/s cpu user ${(c.user / 1e6).toFixed(2)} sys ${(c.system / 1e6).toFixed(2)} main ${(mainThreadCpu() - m0).toFixed(2)}`,
  );
}

const sealed = join(dir, `${basename(input)}.perf.p7m`);
const opened = join(dir, `${basename(input)}.perf.out`);
if (mode !== "open") {
  rmSync(sealed, { force: true });
  await timed("seal", () => sealFile(input, sealed, { recipients: [recipient.cert], signer }));
}
if (mode !== "seal") {
  rmSync(opened, { force: true });
  await timed("open", () =>
    openFile(sealed, opened, { keys: [recipient], trust, durable: process.env.DURABLE !== "0" }),
  );
  rmSync(opened, { force: true });
}
if (mode === "both") rmSync(sealed, { force: true });
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);

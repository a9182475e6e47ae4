// A throwaway relay server for the benchmarks: `sealpost-server init` + `start` as a child process on a loopback port,
// the fixture registry (fixtures/pki/manifest.json: fictional agencies, staff and certificates) registered through the
// admin API with the CLI's own HTTP client, and logged-in clients for any fixture person.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadKeystore, pickKey } from "@sealpost/pki";
import { fixtureInitArgs } from "./server-init-args.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const pkiDir = path.join(root, "fixtures/pki");
const serverBin = path.join(root, "server/bin/sealpost-server.js");
/** The CLI's HTTP client (challenge-signing login, JSON calls, streamed upload and download), built by `tsc --build`. */
const { SealpostClient } = await import("@sealpost/client");
const { keySigner } = await import("@sealpost/client/node");

/** fixtures/pki/manifest.json, parsed. */
export const manifest = JSON.parse(readFileSync(path.join(pkiDir, "manifest.json"), "utf8"));
const pki = (rel) => path.join(pkiDir, rel);

/** The admin of the fixture registry (registered by `init`) and the transfer category the benchmarks use. */
export const ADMIN_ID = "ops-wu";
export const CATEGORY = "WELFARE-TAX";

/** Keeps the last `max` characters written to it (a child's stderr, for error messages). */
function tail(max = 4000) {
  let text = "";
  return {
    push(chunk) {
      text = (text + chunk).slice(-max);
    },
    get text() {
      return text;
    },
  };
}

/** Runs `sealpost-server ARGS` to completion; throws with its stderr when it fails. */
async function runServerCommand(args) {
  const child = spawn(process.execPath, [serverBin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const err = tail();
  child.stderr.on("data", (d) => err.push(d));
  child.stdout.resume();
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`sealpost-server ${args[0]} exited with ${code}: ${err.text.trim()}`);
}

/**
 * Creates a data folder in `dataDir` (`sealpost-server init`, fixture trust anchors and CRLs, ops-wu as the first
 * admin) and starts the server on 127.0.0.1 with a free port. Resolves once it prints its URL. The caller must call
 * `stop()` (SIGTERM, then SIGKILL after 5 s); `pid` is the server's own Node process (for /proc/PID/status);
 * `exited()` is undefined while it runs, then how it ended ("exit code 1", "killed by SIGKILL"); `stderrTail()` its
 * last messages.
 * `nodeArgs` (default none) go to the server's `node`, e.g. ["--cpu-prof"] to profile it. `options.initArgs` are
 * added to `sealpost-server init` (e.g. ["--db", URL, "--db-password-file", FILE]); `options.init: false` starts
 * another instance on a data folder already initialised (several instances on one PostgreSQL database).
 */
export async function startRelay(dataDir, nodeArgs = [], options = {}) {
  if (options.init !== false) {
    await runServerCommand([...fixtureInitArgs(dataDir, ADMIN_ID), ...(options.initArgs ?? [])]);
    // 50 benchmark clients log in from one loopback address: lift the per-address login rate limit for this server.
    const configPath = path.join(dataDir, "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    config.authRateLimit = { burst: 10_000, perMinute: 100_000 };
    writeFileSync(configPath, JSON.stringify(config, null, 2));
  }
  const child = spawn(
    process.execPath,
    [...nodeArgs, serverBin, "start", "--data", dataDir, "--listen", "127.0.0.1:0"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const err = tail();
  child.stderr.on("data", (d) => err.push(d));
  let exited;
  child.once("exit", (code, signal) => {
    exited = signal ? `killed by ${signal}` : `exit code ${code}`;
  });
  const stop = async () => {
    if (exited) return;
    const done = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await done;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the server did not start within 30 s")), 30_000);
      createInterface({ input: child.stdout }).on("line", (line) => {
        const m = /listening on (\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code ?? signal}) while starting: ${err.text.trim()}`));
      });
    });
    return { url, pid: child.pid, stderrTail: () => err.text, exited: () => exited, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const keystores = new Map();

/** A fixture person's signing key (PKCS#12 opened with the manifest's PIN, in memory only), cached. */
export async function signingKey(personId) {
  if (!keystores.has(personId)) {
    const p = manifest.people[personId];
    keystores.set(personId, pickKey(await loadKeystore(pki(p.p12), { pin: p.pin }), "sign"));
  }
  return keystores.get(personId);
}

/** A @sealpost/client logged in (signed challenge) as `personId`; each call gets its own token. */
export async function loginAs(url, personId) {
  const client = new SealpostClient({ server: url });
  const key = await signingKey(personId);
  await client.loginWith(keySigner(key.privateKey, key.cert.sha256));
  return client;
}

/**
 * Registers, as the fixture admin, every fixture agency, staff member and certificate (signing and encryption) and
 * the transfer category CATEGORY, exactly as `sealpost admin ...` does (same endpoints, through @sealpost/client).
 */
export async function registerFixtures(url) {
  const admin = await loginAs(url, ADMIN_ID);
  const adminAgency = manifest.people[ADMIN_ID].agency;
  for (const [code, a] of Object.entries(manifest.agencies)) {
    if (code !== adminAgency) {
      await admin.addAgency({ body: { code, name: a.name, email: a.email, allowCidrs: [] } });
    }
  }
  for (const [id, p] of Object.entries(manifest.people)) {
    if (id !== ADMIN_ID) {
      await admin.addStaff({ body: { agency: p.agency, name: p.name, email: p.email, role: p.role } });
    }
    for (const purpose of ["sign", "encrypt"]) {
      if (id === ADMIN_ID && purpose === "sign") continue; // registered by init
      const pem = readFileSync(pki(p[purpose].cert), "utf8");
      await admin.addCertificate({ body: { staff: p.email, pem, purpose } });
    }
  }
  await admin.addCategory({
    body: { code: CATEGORY, name: "社會救助資格財稅資料查調", purpose: "benchmark category (fictional test data)" },
  });
}

/** The agencies the benchmark's cases go between. */
const CASE_AGENCIES = ["KHH-SOC", "KHH-TAX"];

/**
 * The benchmark's staff as [id, person] pairs, optionally of one agency: the six RSA staff members (role "staff")
 * of KHH-SOC and KHH-TAX. Left out: ops-pan (staff of SEALPOST-OPS, which is neither side of a benchmark case) and
 * the EC staff soc-tsai and tax-chiu (the benchmark seals its payloads to RSA recipients only).
 */
export function fixtureStaff(agency) {
  return Object.entries(manifest.people).filter(
    ([, p]) => p.role === "staff" && !p.keyType && CASE_AGENCIES.includes(p.agency) && (!agency || p.agency === agency),
  );
}

// A throwaway PostgreSQL cluster for the tests, the demo (`npm run demo -- --db postgres`) and the benchmarks:
// initdb in a new temp folder (as the `postgres` user when running as root: the server refuses to run as root),
// listening on 127.0.0.1 at a free port and on a Unix socket in the temp folder; SCRAM password authentication over
// TCP, trust over the socket. Durability is off (fsync, synchronous commit): it is thrown away.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** The folder of PostgreSQL's server programs: Debian's newest /usr/lib/postgresql/N/bin. */
function binDir() {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], "bin");
  }
  throw new Error(
    "PostgreSQL's server programs were not found under /usr/lib/postgresql: run `bash scripts/install.sh` (installs Debian's postgresql).",
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Waits (up to 30 s) until the server accepts a password login on `port`; false when the process ended first. */
async function ready(port, password, proc) {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) return false;
    const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
    try {
      await c.connect();
      await c.end();
      return true;
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

/**
 * Starts the cluster. Resolves `{ cluster: { host, port, user, password, socketDir }, stop() }`; `stop()` shuts it
 * down fast (SIGINT to the postmaster) and removes the folder.
 */
export async function startPgCluster() {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "sealpost-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (prog, args) =>
    asRoot
      ? { cmd: "runuser", args: ["-u", "postgres", "--", join(bin, prog), ...args] }
      : { cmd: join(bin, prog), args };
  const password = randomBytes(18).toString("base64url");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  const data = join(dir, "data");
  const init = run("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    `--pwfile=${pwfile}`,
    "-E",
    "UTF8",
    "--no-locale",
    "--no-sync",
  ]);
  execFileSync(init.cmd, init.args, { stdio: ["ignore", "ignore", "pipe"] });
  rmSync(pwfile);
  let port = 0;
  let proc;
  let log = "";
  for (let tries = 0; tries < 5 && !proc; tries++) {
    port = await freePort();
    const start = run("postgres", [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=300",
    ]);
    const p = spawn(start.cmd, start.args, { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr.on("data", (c) => {
      log = (log + c.toString()).slice(-4000);
    });
    if (await ready(port, password, p)) proc = p;
    else p.kill("SIGKILL");
  }
  if (!proc) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the throwaway PostgreSQL cluster did not start:\n${log}`);
  }
  const postgres = proc;
  return {
    cluster: { host: "127.0.0.1", port, user: "postgres", password, socketDir: dir },
    async stop() {
      // The postmaster's pid (runuser may not pass signals on): SIGINT is PostgreSQL's fast shutdown.
      const pidFile = join(data, "postmaster.pid");
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").split("\n")[0]) : postgres.pid;
      const exited = new Promise((resolve) => {
        if (postgres.exitCode !== null) resolve();
        else postgres.once("exit", () => resolve());
      });
      try {
        if (pid) process.kill(pid, "SIGINT");
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (postgres.exitCode === null) postgres.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a database in `cluster` and a password file for it (mode 0600, in a new temp folder). Resolves
 * `{ name, url, passwordFile, drop() }`: `url` has no password (`sealpost-server init --db URL --db-password-file`).
 */
export async function createDatabase(cluster, prefix = "sealpost") {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = () =>
    new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      database: "postgres",
    });
  const a = admin();
  await a.connect();
  try {
    await a.query(`CREATE DATABASE ${name}`);
  } finally {
    await a.end();
  }
  const dir = mkdtempSync(join(tmpdir(), "sealpost-pgpass-"));
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
  return {
    name,
    url: `postgres://${cluster.user}@${cluster.host}:${cluster.port}/${name}`,
    passwordFile,
    async drop() {
      const d = admin();
      await d.connect();
      try {
        await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await d.end();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

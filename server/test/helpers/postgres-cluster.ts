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

/** Where a throwaway PostgreSQL cluster listens, and its superuser's password (tests only). */
export interface PgCluster {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The folder holding the Unix socket (inside the cluster's temp folder). */
  socketDir: string;
}

/** The folder of PostgreSQL's server programs: Debian's newest /usr/lib/postgresql/N/bin, else PATH. */
function binDir(): string {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a throwaway PostgreSQL cluster: initdb in a new temp folder (as the `postgres` user when running as root,
 * since the server refuses to run as root), listening on 127.0.0.1 at a free port and on a Unix socket in the temp
 * folder; password (SCRAM) authentication over TCP, trust over the socket. Durability is off (fsync, synchronous
 * commit): it is thrown away. `stop()` shuts it down fast and removes the folder.
 */
export async function startPgCluster(): Promise<{ cluster: PgCluster; stop(): Promise<void> }> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "sealpost-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (prog: string, args: string[]) =>
    asRoot
      ? { cmd: "runuser", args: ["-u", "postgres", "--", join(bin, prog), ...args] }
      : { cmd: join(bin, prog), args };
  const password = randomBytes(18).toString("base64url");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const ids = execFileSync("id", ["-u", "postgres"]).toString().trim();
    const gid = execFileSync("id", ["-g", "postgres"]).toString().trim();
    chownSync(dir, Number(ids), Number(gid));
    chownSync(pwfile, Number(ids), Number(gid));
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
  let proc: ReturnType<typeof spawn> | undefined;
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
    p.stderr?.on("data", (c: Buffer) => {
      log = (log + c.toString()).slice(-4000);
    });
    if (await ready(port, password, p)) proc = p;
    else p.kill("SIGKILL");
  }
  if (!proc) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the throwaway PostgreSQL cluster did not start:\n${log}`);
  }
  const cluster: PgCluster = { host: "127.0.0.1", port, user: "postgres", password, socketDir: dir };
  const postgres = proc;
  return {
    cluster,
    async stop() {
      // The postmaster's pid (runuser may not pass signals on): SIGINT is PostgreSQL's fast shutdown.
      const pidFile = join(data, "postmaster.pid");
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").split("\n")[0]) : postgres.pid;
      const exited = new Promise<void>((resolve) => {
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

/** Waits (up to 30 s) until the server accepts a password login on `port`; false when the process ended first. */
async function ready(port: number, password: string, p: ReturnType<typeof spawn>): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if (p.exitCode !== null) return false;
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

/**
 * A real OpenSSH server for tests: `/usr/sbin/sshd -D -e -f <config>` on a free loopback port, with its own host key,
 * authorized key, pid file and config in a fresh temp folder. Nothing of the machine's own sshd setup is used.
 *
 * Obligations: call `close()` in afterAll (it kills sshd and every session process it forked, and removes the temp
 * folder). `kill()` simulates the server dying (listener and all live sessions); `start()` brings it back on the
 * same port with the same host key.
 *
 * Running as root, sshd is told `AllowUsers <current user>` and sessions see the real file system, so a drop's
 * remote folder is an absolute path inside `root` (no ChrootDirectory).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const SSHD = "/usr/sbin/sshd";

export interface SshdHandle {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Temp folder holding the server's files; tests create remote folders below `${root}/remote`. */
  readonly root: string;
  /** Absolute path of an empty folder meant as an SFTP drop's remote folder. */
  readonly remoteDir: string;
  /** The client private key (OpenSSH format, ed25519) authorised to log in. */
  readonly clientPrivateKey: string;
  /** The server's host key fingerprint exactly as `ssh-keygen -lf -E sha256` prints it ("SHA256:..."). */
  readonly hostKeyFingerprint: string;
  /** True while sshd's listener process runs. */
  readonly running: boolean;
  /** (Re)start sshd on the same port; resolves once it listens. */
  start(): Promise<void>;
  /** Kill sshd and all its session processes at once (SIGKILL), synchronously. */
  kill(): void;
  /** kill() and remove the temp folder. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Every descendant pid of `pid`, read from /proc (sshd session processes detach into their own sessions). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // process ended while we looked
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Generate keys and config in a temp folder and start sshd. */
export async function startSshd(): Promise<SshdHandle> {
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const root = await mkdtemp(path.join(tmpdir(), "sealpost-sshd-"));
  const remoteDir = path.join(root, "remote");
  mkdirSync(remoteDir, { mode: 0o700 });
  const hostKey = path.join(root, "host_ed25519");
  const clientKey = path.join(root, "client_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sealpost-test-host", "-f", hostKey]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sealpost-test-client", "-f", clientKey]);
  const authorized = path.join(root, "authorized_keys");
  await writeFile(authorized, await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const { stdout } = await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKey}.pub`]);
  const hostKeyFingerprint = stdout.split(" ")[1] ?? "";
  const port = await freePort();
  const username = userInfo().username;
  const config = path.join(root, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${path.join(root, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${username}`,
      "UsePAM no",
      "StrictModes no",
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
      "MaxStartups 50",
      "",
    ].join("\n"),
  );
  const clientPrivateKey = await readFile(clientKey, "utf8");

  let child: ChildProcess | undefined;
  let alive = false;
  let exited: Promise<unknown> = Promise.resolve();
  const launch = async (): Promise<void> => {
    if (handle.running) return;
    await exited;
    const proc = spawn(SSHD, ["-D", "-e", "-f", config, "-o", "LogLevel=INFO"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    exited = new Promise((resolve) =>
      proc.once("exit", (code) => {
        if (child === proc) alive = false;
        resolve(code);
      }),
    );
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      const onData = (d: Buffer) => {
        buf += d.toString("utf8");
        if (buf.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          proc.stderr?.off("data", onData);
          proc.stderr?.resume();
          alive = true;
          resolve();
        }
      };
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => reject(new Error(`sshd exited (${code}) before listening: ${buf.slice(0, 500)}`)));
      proc.once("error", reject);
    });
  };
  let starting: Promise<void> | undefined;
  const handle: SshdHandle = {
    host: "127.0.0.1",
    port,
    username,
    root,
    remoteDir,
    clientPrivateKey,
    hostKeyFingerprint,
    get running() {
      return alive;
    },
    start() {
      starting ??= launch().finally(() => {
        starting = undefined;
      });
      return starting;
    },
    kill() {
      const proc = child;
      alive = false;
      // Never signal a pid whose process already ended: the number may belong to someone else by now.
      if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
      const pids = [proc.pid, ...descendants(proc.pid)];
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
    async close() {
      handle.kill();
      await exited;
      await rm(root, { recursive: true, force: true });
    },
  };
  // If the test process ends without close() (a crash, a killed worker), take sshd down with it.
  process.once("exit", () => handle.kill());
  try {
    await handle.start();
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

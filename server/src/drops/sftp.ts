import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { CipherAlgorithm, SFTPWrapper } from "ssh2";
import SftpClient from "ssh2-sftp-client";
import { DropError } from "./errors.js";
import { hostKeyFingerprint, hostKeyMatches } from "./fingerprint.js";
import { pipelinedRead, pipelinedWrite, readDirCapped } from "./sftp-pipeline.js";

/** Where and as whom a drop connects. `hostKeySha256` is the pinned OpenSSH fingerprint ("SHA256:..."). */
export interface SftpEndpoint {
  host: string;
  port: number;
  username: string;
  hostKeySha256: string;
}

/** One entry of a remote folder listing (regular files and folders only; links are ignored). */
export interface RemoteEntry {
  name: string;
  size: number;
  type: "file" | "dir";
}

/** Options of `SftpSession.open`. */
export interface SftpOpenOptions {
  /** Time allowed for TCP connect + SSH handshake + login. Default 20000 ms. */
  readyTimeoutMs?: number;
  /** SSH keepalive interval; a dead peer is noticed after 3 missed keepalives. Default 5000 ms. */
  keepaliveIntervalMs?: number;
  /**
   * Deadline of every SFTP operation: an operation with no reply (or, for a transfer, no new piece) for this long
   * fails with SFTP_IO (details.reason "timeout") and the connection is closed, so a server that stops answering
   * (or a file swapped for a link to a named pipe) cannot stall a run. Default 30000 ms.
   */
  opTimeoutMs?: number;
}

/** Ciphers offered, in order of preference (all AEAD or CTR; no CBC). */
const CIPHERS = [
  "aes256-gcm@openssh.com",
  "aes128-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
  "aes256-ctr",
  "aes192-ctr",
  "aes128-ctr",
] satisfies CipherAlgorithm[];

const quiet = { error: () => {}, end: () => {}, close: () => {} };

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An SFTP connection whose server proved it holds the pinned host key. Every method throws DropError: SFTP_IO for
 * failed operations (retryable), CONNECT_FAILED when the connection is gone. Call `close()` when done (always safe).
 */
export class SftpSession {
  private closed = false;

  private constructor(
    private readonly client: SftpClient,
    readonly endpoint: SftpEndpoint,
    private readonly opTimeoutMs: number,
  ) {}

  /**
   * Runs `op` under the operation deadline: `touch` (handed to `op`) restarts it on progress. On expiry the
   * connection is closed (ssh2 then fails the pending requests) and the operation fails with SFTP_IO "timeout" at
   * once, whatever `op` still waits for.
   */
  private async deadline<T>(op: string, remotePath: string, run: (touch: () => void) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let expire!: (e: DropError) => void;
    const expired = new Promise<never>((_resolve, reject) => {
      expire = reject;
    });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        expire(
          new DropError(
            "SFTP_IO",
            `SFTP ${op} of ${remotePath}: no reply for ${this.opTimeoutMs} ms; the connection was closed.`,
            { details: { op, path: remotePath, reason: "timeout", timeoutMs: this.opTimeoutMs } },
          ),
        );
        void this.close();
      }, this.opTimeoutMs);
    };
    arm();
    const work = run(arm);
    work.catch(() => {}); // after expiry its failure is of no interest
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Connects and logs in with `privateKey`. The server's host key is ALWAYS checked against
   * `endpoint.hostKeySha256` (SHA-256 of the key blob, constant-time compare) before authentication; a different key
   * ends the handshake with DropError HOST_KEY_MISMATCH naming both fingerprints. Refused logins give AUTH_FAILED,
   * unreachable servers CONNECT_FAILED.
   */
  static async open(endpoint: SftpEndpoint, privateKey: string, options: SftpOpenOptions = {}): Promise<SftpSession> {
    const client = new SftpClient("sealpost-drop", quiet);
    let presented: string | undefined;
    let hostKeyRefused = false;
    try {
      await client.connect({
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.username,
        privateKey,
        readyTimeout: options.readyTimeoutMs ?? 20_000,
        // AES-GCM first: with the CPU's AES instructions it is the fastest cipher ssh2 offers (about 1.5x ChaCha20).
        algorithms: { cipher: CIPHERS },
        keepaliveInterval: options.keepaliveIntervalMs ?? 5_000,
        keepaliveCountMax: 3,
        retries: 0,
        hostVerifier: (key: Buffer) => {
          presented = hostKeyFingerprint(key);
          const ok = hostKeyMatches(key, endpoint.hostKeySha256);
          hostKeyRefused = !ok;
          return ok;
        },
      } as SftpClient.ConnectOptions);
    } catch (e) {
      await client.end().catch(() => {});
      const where = `${endpoint.host}:${endpoint.port}`;
      if (hostKeyRefused) {
        throw new DropError(
          "HOST_KEY_MISMATCH",
          `The SFTP server ${where} presented an unknown host key ${presented ?? "(none)"} (pinned: ${endpoint.hostKeySha256}); nothing was transferred.`,
          {
            hint: "If the agency really re-installed its server, confirm the new fingerprint with them by phone and pin it with `sealpost drop edit NAME --host-key SHA256:...`; otherwise report a possible interception.",
            details: { expected: endpoint.hostKeySha256, presented },
          },
        );
      }
      const msg = describe(e);
      if (/authentication methods failed|All configured authentication/i.test(msg)) {
        throw new DropError(
          "AUTH_FAILED",
          `The SFTP server ${where} refused the login of user "${endpoint.username}".`,
          {
            cause: e,
            hint: "Check that the drop's public key is in that user's authorized_keys on the agency's server.",
          },
        );
      }
      throw new DropError("CONNECT_FAILED", `Could not connect to the SFTP server ${where}: ${msg}`, {
        cause: e,
        hint: "The run is retried automatically; if this persists, check the host, port and the agency's firewall.",
      });
    }
    // Small SFTP requests wait for their replies: without TCP_NODELAY, Nagle + delayed ACKs cap throughput.
    (client as unknown as { client: { setNoDelay(v: boolean): void } }).client.setNoDelay(true);
    return new SftpSession(client, endpoint, options.opTimeoutMs ?? 30_000);
  }

  /** The underlying ssh2 SFTP channel (CONNECT_FAILED when the connection is gone). */
  private raw(): SFTPWrapper {
    const sftp = (this.client as unknown as { sftp?: SFTPWrapper }).sftp;
    if (!sftp)
      throw new DropError(
        "CONNECT_FAILED",
        `The SFTP connection to ${this.endpoint.host}:${this.endpoint.port} is gone.`,
      );
    return sftp;
  }

  private fail(op: string, remotePath: string, e: unknown): never {
    if (e instanceof DropError) throw e;
    throw new DropError("SFTP_IO", `SFTP ${op} of ${remotePath} failed: ${describe(e)}`, {
      cause: e,
      details: { op, path: remotePath },
    });
  }

  /** Regular files and folders of `dir` (symbolic links and others are left out). */
  async list(dir: string): Promise<RemoteEntry[]> {
    return (await this.listSome(dir, Number.MAX_SAFE_INTEGER)).entries;
  }

  /**
   * Like `list`, but reads the folder one READDIR reply at a time and stops once `maxEntries` names (of any kind)
   * have arrived: `truncated` is then true and the rest is left for a later listing. Memory stays bounded by
   * maxEntries whatever the server sends; each reply is under the operation deadline.
   */
  async listSome(dir: string, maxEntries: number): Promise<{ entries: RemoteEntry[]; truncated: boolean }> {
    try {
      return await this.deadline("list", dir, (touch) => readDirCapped(this.raw(), dir, maxEntries, touch));
    } catch (e) {
      this.fail("list", dir, e);
    }
  }

  /** Size of a regular file, or undefined when nothing exists at that path. */
  async size(remotePath: string): Promise<number | undefined> {
    try {
      return await this.deadline("stat", remotePath, async () => {
        const kind = await this.client.exists(remotePath);
        if (kind === false) return undefined;
        return (await this.client.stat(remotePath)).size;
      });
    } catch (e) {
      this.fail("stat", remotePath, e);
    }
  }

  /** Creates `dir` unless it exists. */
  async ensureDir(dir: string): Promise<void> {
    try {
      await this.deadline("mkdir", dir, async () => {
        if ((await this.client.exists(dir)) === "d") return;
        await this.client.mkdir(dir, false);
      });
    } catch (e) {
      this.fail("mkdir", dir, e);
    }
  }

  /**
   * Streams `remotePath` into `localPath` (created with mode 0600, must not exist), hashing as it goes. Fails with
   * SFTP_IO when more than `maxBytes` arrive or when fewer bytes arrive than the file's size when the download began
   * (a connection that dies mid-file never yields a short file that looks complete).
   */
  async download(
    remotePath: string,
    localPath: string,
    maxBytes = Number.MAX_SAFE_INTEGER,
  ): Promise<{ sha256: string; size: number }> {
    try {
      return await this.deadline("download", remotePath, (touch) =>
        this.downloadTo(remotePath, localPath, maxBytes, touch),
      );
    } catch (e) {
      this.fail("download", remotePath, e);
    }
  }

  private async downloadTo(
    remotePath: string,
    localPath: string,
    maxBytes: number,
    touch: () => void,
  ): Promise<{ sha256: string; size: number }> {
    {
      const expected = (await this.client.stat(remotePath)).size;
      if (expected > maxBytes) {
        throw new DropError("SFTP_IO", `${remotePath} is ${expected} bytes, more than the ${maxBytes} allowed.`);
      }
      const hash = createHash("sha256");
      let size = 0;
      const out = createWriteStream(localPath, { flags: "wx", mode: 0o600 });
      const opened = once(out, "open");
      try {
        await opened;
        await pipelinedRead(this.raw(), remotePath, expected, async (piece) => {
          touch();
          size += piece.length;
          hash.update(piece);
          if (!out.write(piece)) await once(out, "drain");
        });
        out.end();
        await finished(out);
      } catch (e) {
        out.destroy();
        throw e;
      }
      if (size !== expected) {
        throw new DropError("SFTP_IO", `Only ${size} of ${expected} bytes of ${remotePath} arrived.`);
      }
      return { sha256: hash.digest("hex"), size };
    }
  }

  /**
   * SHA-256 of a remote file, read without storing it (for refusing files too large to keep), and its size. At
   * most `maxBytes` are read: for a larger file the hash covers its first `maxBytes` bytes (`hashedBytes` says
   * how many were hashed; it equals `size` when the hash is of the whole file).
   */
  async hash(remotePath: string, maxBytes: number): Promise<{ sha256: string; size: number; hashedBytes: number }> {
    try {
      return await this.deadline("read", remotePath, async (touch) => {
        const size = (await this.client.stat(remotePath)).size;
        const hash = createHash("sha256");
        let hashedBytes = 0;
        await pipelinedRead(this.raw(), remotePath, Math.min(size, maxBytes), (piece) => {
          touch();
          hashedBytes += piece.length;
          if (hashedBytes > maxBytes) throw new DropError("SFTP_IO", `More than ${maxBytes} bytes arrived.`);
          hash.update(piece);
        });
        return { sha256: hash.digest("hex"), size, hashedBytes };
      });
    } catch (e) {
      this.fail("read", remotePath, e);
    }
  }

  /**
   * Streams `source` to `remotePath` (created or truncated) and checks the remote size afterwards against `size`.
   * The caller renames the file into place; this method never does.
   */
  async upload(source: Readable, remotePath: string, size: number): Promise<void> {
    try {
      await this.deadline("upload", remotePath, async (touch) => {
        const sent = await pipelinedWrite(this.raw(), remotePath, source, touch);
        if (sent !== size)
          throw new DropError("SFTP_IO", `The stored file gave ${sent} bytes, not the ${size} recorded.`);
        const got = (await this.client.stat(remotePath)).size;
        if (got !== size) throw new DropError("SFTP_IO", `Only ${got} of ${size} bytes of ${remotePath} were written.`);
      });
    } catch (e) {
      this.fail("upload", remotePath, e);
    }
  }

  /**
   * Reads a small file whole; SFTP_IO when it is larger than `maxBytes`. The limit holds while reading, whatever
   * `stat` said: at most `maxBytes + 1` bytes are ever requested (a file swapped for a link to /dev/zero, or one
   * that grows, ends the read there).
   */
  async readSmall(remotePath: string, maxBytes: number): Promise<Buffer> {
    const tooLarge = () => new DropError("SFTP_IO", `${remotePath} is larger than the ${maxBytes} bytes allowed.`);
    try {
      return await this.deadline("read", remotePath, async (touch) => {
        const size = (await this.client.stat(remotePath)).size;
        if (size > maxBytes) throw tooLarge();
        const pieces: Buffer[] = [];
        let got = 0;
        await pipelinedRead(
          this.raw(),
          remotePath,
          maxBytes + 1,
          (piece) => {
            touch();
            got += piece.length;
            if (got > maxBytes) throw tooLarge();
            pieces.push(piece);
          },
          true,
        );
        return Buffer.concat(pieces, got);
      });
    } catch (e) {
      this.fail("read", remotePath, e);
    }
  }

  /**
   * Writes a small text file (UTF-8) at `remotePath`, replacing it, mode 0644 (readable by the agency's accounts,
   * writable by the drop's user only).
   */
  async writeText(remotePath: string, text: string): Promise<void> {
    try {
      await this.deadline("write", remotePath, () =>
        this.client.put(Buffer.from(text, "utf8"), remotePath, { writeStreamOptions: { mode: 0o644 } }),
      );
      // A file that existed keeps its old mode whatever the open asked: set it.
      await this.deadline("write", remotePath, () => this.client.chmod(remotePath, 0o644));
    } catch (e) {
      this.fail("write", remotePath, e);
    }
  }

  /** Renames `from` to `to`; fails when `to` exists (SFTP rename semantics). */
  async rename(from: string, to: string): Promise<void> {
    try {
      await this.deadline("rename", from, () => this.client.rename(from, to));
    } catch (e) {
      this.fail("rename", from, e);
    }
  }

  /** Removes a file; a missing file is not an error. */
  async remove(remotePath: string): Promise<void> {
    try {
      await this.deadline("delete", remotePath, () => this.client.delete(remotePath, true));
    } catch (e) {
      this.fail("delete", remotePath, e);
    }
  }

  /** Ends the connection; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => {});
  }
}

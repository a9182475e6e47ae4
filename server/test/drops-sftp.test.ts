/**
 * The SFTP layer of drops against a real OpenSSH server: pipelined transfers across chunk boundaries, host key
 * pinning (our fingerprint must equal OpenSSH's), refused logins, unreachable servers, a server killed mid-transfer;
 * and the sidecar parser.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ServerError } from "../src/errors.js";
import { DropError } from "../src/drops/errors.js";
import { checkPrivateKey } from "../src/drops/keys.js";
import { fingerprintDigest, hostKeyMatches, isHostKeyFingerprint } from "../src/drops/fingerprint.js";
import { parseSidecar } from "../src/drops/sidecar.js";
import { CHUNK_BYTES } from "../src/drops/sftp-pipeline.js";
import { type SftpEndpoint, SftpSession } from "../src/drops/sftp.js";
import { type SshdHandle, startSshd } from "./helpers/sshd.js";

const run = promisify(execFile);
let sshd: SshdHandle;
let work: string;
let endpoint: SftpEndpoint;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(path.join(tmpdir(), "sealpost-drops-sftp-"));
  endpoint = { host: sshd.host, port: sshd.port, username: sshd.username, hostKeySha256: sshd.hostKeyFingerprint };
});

afterAll(async () => {
  await sshd?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<DropError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DropError);
  return e as DropError;
}

describe("transfers", () => {
  test.each([0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES + 500, 40 * CHUNK_BYTES + 7])(
    "upload then download of %i bytes is byte-exact",
    async (n) => {
      const data = randomBytes(n);
      const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
      try {
        const remote = path.join(sshd.remoteDir, `t-${n}.bin`);
        // Odd source chunk sizes so pieces straddle request boundaries.
        const pieces = [];
        for (let off = 0; off < n; off += 50_000) pieces.push(data.subarray(off, Math.min(n, off + 50_000)));
        await s.upload(Readable.from(pieces), remote, n);
        expect(sha(readFileSync(remote))).toBe(sha(data));
        const local = path.join(work, `t-${n}.bin`);
        const got = await s.download(remote, local);
        expect(got).toEqual({ sha256: sha(data), size: n });
        expect(sha(readFileSync(local))).toBe(sha(data));
        expect(await s.hash(remote, n)).toEqual({ sha256: sha(data), size: n, hashedBytes: n });
      } finally {
        await s.close();
      }
    },
  );

  test("an upload whose source is shorter than recorded fails and says so", async () => {
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const e = await failure(s.upload(Readable.from([Buffer.alloc(10)]), path.join(sshd.remoteDir, "short.part"), 11));
      expect(e.code).toBe("SFTP_IO");
      expect(e.retryable).toBe(true);
    } finally {
      await s.close();
    }
  });

  test("the server killed mid-download: a retryable error, never a short file taken as complete", async () => {
    const remote = path.join(sshd.remoteDir, "big.bin");
    writeFileSync(remote, Buffer.alloc(64 * 1024 * 1024, 1));
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    const local = path.join(work, "big.bin");
    try {
      let killed = false;
      const watcher = setInterval(() => {
        try {
          if (!killed && statSync(local).size > 0) {
            killed = true;
            sshd.kill();
          }
        } catch {
          // not created yet
        }
      }, 5);
      const e = await failure(s.download(remote, local));
      clearInterval(watcher);
      expect(killed).toBe(true);
      expect(e.retryable).toBe(true);
    } finally {
      await s.close();
      rmSync(remote, { force: true });
      await sshd.start();
    }
  });
});

describe("deadlines", () => {
  test("a sidecar and a .p7m swapped for links to a named pipe: SFTP_IO timeout, the connection closed, no hang", async () => {
    const fifo = path.join(sshd.root, "stall-fifo");
    await run("mkfifo", [fifo]);
    const sidecar = path.join(sshd.remoteDir, "stall.p7m.json");
    const p7m = path.join(sshd.remoteDir, "stall.p7m");
    symlinkSync(fifo, sidecar);
    symlinkSync(fifo, p7m);
    try {
      for (const read of [
        (s: SftpSession) => s.readSmall(sidecar, 64 * 1024),
        (s: SftpSession) => s.download(p7m, path.join(work, "stall.p7m"), 1 << 20),
        (s: SftpSession) => s.hash(p7m, 1 << 20),
      ]) {
        const s = await SftpSession.open(endpoint, sshd.clientPrivateKey, { opTimeoutMs: 1000 });
        try {
          const t0 = Date.now();
          const e = await failure(read(s));
          expect(Date.now() - t0).toBeLessThan(5000);
          expect(e.code).toBe("SFTP_IO");
          expect(e.details).toMatchObject({ reason: "timeout", timeoutMs: 1000 });
          // The session is closed: a later operation fails at once instead of waiting.
          expect((await failure(s.list(sshd.remoteDir))).code).toMatch(/SFTP_IO|CONNECT_FAILED/);
        } finally {
          await s.close();
        }
      }
    } finally {
      rmSync(sidecar, { force: true });
      rmSync(p7m, { force: true });
      rmSync(fifo, { force: true });
    }
  }, 60_000);
});

describe("listing cap", () => {
  test("listSome stops after maxEntries names (truncated), and reads a folder of exactly maxEntries whole", async () => {
    const dir = path.join(sshd.remoteDir, "many");
    await run("mkdir", [dir]);
    for (let i = 0; i < 300; i++) writeFileSync(path.join(dir, `f${String(i).padStart(4, "0")}.p7m`), "x");
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const capped = await s.listSome(dir, 120);
      expect(capped.truncated).toBe(true);
      expect(capped.entries).toHaveLength(120);
      expect(capped.entries.every((e) => e.type === "file" && e.size === 1)).toBe(true);
      const exact = await s.listSome(dir, 300);
      expect(exact.truncated).toBe(false);
      expect(new Set(exact.entries.map((e) => e.name)).size).toBe(300);
      expect((await s.list(dir)).length).toBe(300);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("byte limits hold while reading", () => {
  test("readSmall of a sidecar swapped for a link to /dev/zero: SFTP_IO after at most maxBytes + 1 bytes", async () => {
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const link = path.join(sshd.remoteDir, "zero.p7m.json");
      symlinkSync("/dev/zero", link);
      const rss = process.memoryUsage().rss;
      const e = await failure(s.readSmall(link, 64 * 1024));
      expect(e.code).toBe("SFTP_IO");
      expect(e.message).toContain("larger than the 65536 bytes allowed");
      expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await s.close();
    }
  }, 30_000);

  test("readSmall: exactly maxBytes is read whole, one byte more is refused, a short file is returned as is", async () => {
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const limit = 64 * 1024;
      for (const [n, ok] of [
        [0, true],
        [100, true],
        [limit, true],
        [limit + 1, false],
      ] as const) {
        const f = path.join(sshd.remoteDir, `small-${n}.json`);
        const data = randomBytes(n);
        writeFileSync(f, data);
        if (ok) expect((await s.readSmall(f, limit)).equals(data), `${n}`).toBe(true);
        else expect((await failure(s.readSmall(f, limit))).code).toBe("SFTP_IO");
      }
    } finally {
      await s.close();
    }
  });

  test("hash of a 64 GiB (sparse) file reads only its first maxBytes", async () => {
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const f = path.join(sshd.remoteDir, "huge.p7m");
      writeFileSync(f, Buffer.from("head"));
      truncateSync(f, 64 * 1024 ** 3);
      const got = await s.hash(f, 1024 * 1024);
      const prefix = Buffer.alloc(1024 * 1024);
      prefix.write("head");
      expect(got).toEqual({ sha256: sha(prefix), size: 64 * 1024 ** 3, hashedBytes: 1024 * 1024 });
      rmSync(f);
    } finally {
      await s.close();
    }
  }, 30_000);
});

describe("connection", () => {
  test("our SHA-256 fingerprint of the presented key is exactly what ssh-keygen prints", async () => {
    const pinned = `SHA256:${randomBytes(32).toString("base64").replace(/=+$/, "")}`;
    const e = await failure(SftpSession.open({ ...endpoint, hostKeySha256: pinned }, sshd.clientPrivateKey));
    expect(e.code).toBe("HOST_KEY_MISMATCH");
    expect(e.retryable).toBe(false);
    expect(e.details).toEqual({ expected: pinned, presented: sshd.hostKeyFingerprint });
    // The message itself names the key the server presented (and the pinned one), for ops to compare by phone.
    expect(e.message).toContain(`unknown host key ${sshd.hostKeyFingerprint} (pinned: ${pinned})`);
    expect(e.hint).toMatch(/sealpost drop edit NAME --host-key/);
  });

  test("a key the server does not know: AUTH_FAILED, not retried", async () => {
    const keyPath = path.join(work, "stranger");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", keyPath]);
    const e = await failure(SftpSession.open(endpoint, readFileSync(keyPath, "utf8")));
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain("PRIVATE KEY");
  });

  test("nothing listening: CONNECT_FAILED, retryable", async () => {
    const e = await failure(
      SftpSession.open({ ...endpoint, port: 1 }, sshd.clientPrivateKey, { readyTimeoutMs: 5000 }),
    );
    expect(e.code).toBe("CONNECT_FAILED");
    expect(e.retryable).toBe(true);
  });

  test.each([
    { name: "OpenSSH form", input: sshd_like(), want: true },
    { name: "with padding", input: `${sshd_like()}=`, want: true },
    { name: "MD5 form", input: "MD5:12:34:56", want: false },
    { name: "hex", input: `SHA256:${"ab".repeat(32)}`, want: false },
    { name: "short", input: "SHA256:abc", want: false },
  ])("fingerprint syntax: $name", ({ input, want }) => {
    expect(isHostKeyFingerprint(input)).toBe(want);
    expect(fingerprintDigest(input) !== undefined).toBe(want);
  });

  test("a malformed pin never matches", () => {
    expect(hostKeyMatches(randomBytes(51), "SHA256:nope")).toBe(false);
  });
});

describe("files the relay writes on the agency's server", () => {
  test("writeText leaves 0644, also over an existing world-writable file (refusal notes are not world-writable)", async () => {
    const s = await SftpSession.open(endpoint, sshd.clientPrivateKey);
    try {
      const fresh = path.join(sshd.remoteDir, "note-fresh.error.txt");
      const old = path.join(sshd.remoteDir, "note-old.error.txt");
      writeFileSync(old, "old");
      chmodSync(old, 0o666);
      await s.writeText(fresh, "refused\n");
      await s.writeText(old, "refused again\n");
      expect(statSync(fresh).mode & 0o777).toBe(0o644);
      expect(statSync(old).mode & 0o777).toBe(0o644);
      expect(readFileSync(old, "utf8")).toBe("refused again\n");
      rmSync(fresh);
      rmSync(old);
    } finally {
      await s.close();
    }
  });
});

describe("drop login keys", () => {
  test.each([
    ["OpenSSH ed25519", ["-t", "ed25519"]],
    ["PEM RSA (Proc-Type: 4,ENCRYPTED)", ["-t", "rsa", "-b", "2048", "-m", "PEM"]],
  ])("a passphrase-protected key (%s) is refused saying so", async (label, args) => {
    const keyPath = path.join(work, `with-passphrase-${label.replace(/\W+/g, "-")}`);
    await run("ssh-keygen", ["-q", ...args, "-N", "a passphrase", "-C", "pp", "-f", keyPath]);
    const pem = readFileSync(keyPath, "utf8");
    let e: unknown;
    try {
      checkPrivateKey(pem);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ServerError);
    expect((e as ServerError).code).toBe("BAD_REQUEST");
    expect((e as ServerError).message).toMatch(/protected by a passphrase/);
    expect((e as ServerError).details).toEqual({ reason: "passphrase" });
    expect((e as ServerError).hint).toMatch(/-N ''/);
    expect((e as ServerError).message).not.toContain("PRIVATE KEY");
  });

  test("an unencrypted key passes; garbage is refused without mentioning a passphrase", () => {
    expect(() => checkPrivateKey(sshd.clientPrivateKey)).not.toThrow();
    expect(() => checkPrivateKey("not a key")).toThrow(/could not be read/);
  });
});

function sshd_like(): string {
  return `SHA256:${Buffer.alloc(32, 7).toString("base64").replace(/=+$/, "")}`;
}

describe("sidecar", () => {
  const good = {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    records: 1200,
    uploadNo: "1130001",
    remark: "月報",
    senderEmail: "chen@soc.khh.example",
  };
  const j = (o: unknown) => Buffer.from(JSON.stringify(o));

  test.each([
    { name: "canonical fields", input: j(good), want: good },
    {
      name: "CLI option aliases",
      input: j({ ...good, receivingAgency: undefined, "to-agency": "KHH-TAX", records: undefined, recordCount: 1200 }),
      want: good,
    },
    { name: "remark optional", input: j({ ...good, remark: undefined }), want: { ...good, remark: "" } },
    { name: "UTF-8 BOM", input: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), j(good)]), want: good },
    {
      name: "receivers",
      input: j({ ...good, receivers: ["wang@tax.khh.example"] }),
      want: { ...good, receivers: ["wang@tax.khh.example"] },
    },
  ])("accepts $name", ({ input, want }) => {
    expect(parseSidecar(input)).toEqual(want);
  });

  test.each([
    { name: "not JSON", input: Buffer.from("{ nope"), why: /not valid JSON/ },
    { name: "an array", input: j([good]), why: /not a JSON object/ },
    { name: "no category", input: j({ ...good, category: "" }), why: /category/ },
    { name: "negative records", input: j({ ...good, records: -1 }), why: /records/ },
    { name: "fractional records", input: j({ ...good, records: 1.5 }), why: /records/ },
    { name: "bad sender", input: j({ ...good, senderEmail: "chen" }), why: /senderEmail/ },
    { name: "empty receivers", input: j({ ...good, receivers: [] }), why: /receivers/ },
    { name: "too large", input: Buffer.alloc(70_000, 0x20), why: /larger than/ },
  ])("refuses $name", ({ input, why }) => {
    let err: unknown;
    try {
      parseSidecar(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DropError);
    expect((err as DropError).code).toBe("BAD_SIDECAR");
    expect((err as DropError).message).toMatch(why);
  });
});

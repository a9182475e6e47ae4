import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { lstat, open, rm, stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type KeyEntry, keyHandleOf } from "@sealpost/pki";
import {
  type ChallengeResponse,
  type LoginResponse,
  type LoginStatement,
  type ReceiptRequest,
  type ReceiptStatement,
  canonicalJson,
} from "@sealpost/protocol";
import { ioError } from "../files.js";
import { RemoteError } from "./errors.js";

/**
 * Signs `statement` as the server expects: SHA-256 with the signing key over canonicalJson(statement), base64
 * (RSA PKCS#1 v1.5, or DER ECDSA for an EC key), through the key's handle (a token signs on the token).
 */
export async function signStatement(key: KeyEntry, statement: LoginStatement | ReceiptStatement): Promise<string> {
  const handle = keyHandleOf(key);
  const sig = await handle.sign(Buffer.from(canonicalJson(statement), "utf8"), {
    scheme: handle.algorithm === "ec" ? "ecdsa" : "rsa-pkcs1",
    hash: "sha256",
  });
  return sig.toString("base64");
}

/** A signed receipt for a case file (payload by a receiver, result by the sender). */
export async function makeReceipt(
  key: KeyEntry,
  caseId: string,
  kind: "payload" | "result",
  sha256: string,
): Promise<ReceiptRequest> {
  const statement: ReceiptStatement = {
    type: "sealpost-receipt",
    caseId,
    kind,
    sha256,
    time: new Date().toISOString(),
  };
  return { certSha256: key.cert.sha256, statement, signature: await signStatement(key, statement) };
}

/** True for "localhost", 127.0.0.0/8 and ::1 (as URL.hostname spells them). */
function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The relay server's HTTP API as the CLI uses it (Node's fetch). JSON calls, streamed uploads (duplex "half",
 * Content-Length set) and streamed downloads (straight to a file, hashed on the way). Server refusals become
 * RemoteError with the server's code; network failures SERVER_UNREACHABLE.
 */
export class RemoteClient {
  readonly base: string;

  constructor(
    server: string,
    public token?: string,
  ) {
    let u: URL;
    try {
      u = new URL(server);
    } catch {
      throw new RemoteError("USAGE", `"${server}" is not a server URL.`, {
        exitCode: 2,
        hint: "e.g. https://sealpost.example.gov.tw",
      });
    }
    if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
      throw new RemoteError(
        "USAGE",
        `"${server}" is not an https:// URL: the login token and the sealed files must not cross a network in clear.`,
        { exitCode: 2, hint: "Use the server's https:// URL (http:// only for 127.0.0.1, ::1 or localhost)." },
      );
    }
    this.base = u.origin + u.pathname.replace(/\/+$/, "");
  }

  get origin(): string {
    return new URL(this.base).origin;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.base + path, init);
    } catch (e) {
      throw new RemoteError("SERVER_UNREACHABLE", `Cannot reach the sealpost server at ${this.base}.`, {
        cause: e,
        hint: "Check the URL, your network, and that the server is running.",
      });
    }
  }

  private async fail(r: Response): Promise<never> {
    let body: { error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> } } = {};
    try {
      body = (await r.json()) as typeof body;
    } catch {
      /* not JSON */
    }
    const e = body.error;
    if (!e?.code) {
      throw new RemoteError("BAD_RESPONSE", `The server answered ${r.status} ${r.statusText} without an error body.`, {
        status: r.status,
      });
    }
    throw new RemoteError(e.code, e.message ?? e.code, {
      status: r.status,
      ...(e.hint
        ? { hint: e.hint }
        : r.status === 401
          ? { hint: "Run: sealpost login --server URL --key KEYSTORE" }
          : {}),
      ...(e.details ? { details: e.details } : {}),
    });
  }

  /** A JSON call; returns the parsed body (undefined for 204). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.jsonWithHeaders<T>(method, path, body)).body;
  }

  /** A JSON call that also returns the response headers (e.g. X-Next-Cursor of a paged list). */
  async jsonWithHeaders<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: Headers }> {
    const r = await this.fetch(path, {
      method,
      headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!r.ok) return this.fail(r);
    if (r.status === 204) return { body: undefined as T, headers: r.headers };
    try {
      return { body: (await r.json()) as T, headers: r.headers };
    } catch (e) {
      throw new RemoteError("BAD_RESPONSE", "The server's answer is not JSON.", { cause: e, status: r.status });
    }
  }

  /** Challenge, sign, login; sets this.token. */
  async login(key: KeyEntry): Promise<LoginResponse> {
    const ch = await this.json<ChallengeResponse>("POST", "/v1/auth/challenge", { certSha256: key.cert.sha256 });
    const statement: LoginStatement = {
      type: "sealpost-login",
      challenge: ch.challenge,
      origin: this.origin,
      time: new Date().toISOString(),
    };
    const res = await this.json<LoginResponse>("POST", "/v1/auth/login", {
      challengeId: ch.challengeId,
      certSha256: key.cert.sha256,
      statement,
      signature: await signStatement(key, statement),
    });
    this.token = res.token;
    return res;
  }

  /** Streams a file as the body of PUT `path`; `onProgress` gets the bytes sent so far. */
  async upload<T>(path: string, file: string, onProgress?: (bytes: number) => void): Promise<T> {
    const size = (await stat(file)).size;
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        sent += chunk.length;
        onProgress?.(sent);
        cb(null, chunk);
      },
    });
    const source = createReadStream(file).pipe(meter);
    const r = await this.fetch(path, {
      method: "PUT",
      headers: this.headers({ "content-type": "application/octet-stream", "content-length": String(size) }),
      body: Readable.toWeb(source) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    if (!r.ok) return this.fail(r);
    return (await r.json()) as T;
  }

  /**
   * Streams GET `path` into `outPath` (mode 0600), hashing on the way, and checks the hash against the server's
   * X-Sealpost-Sha256 header (HASH_MISMATCH otherwise; the file is then removed). With `resume` and an existing
   * partial `outPath`, asks only for the missing bytes (`Range: bytes=N-`) and appends them; a server that answers
   * with the whole file (200) or finds the range unsatisfiable (416) gets a fresh full download.
   */
  async download(
    path: string,
    outPath: string,
    onProgress?: (bytes: number, total?: number) => void,
    options: { resume?: boolean } = {},
  ): Promise<{ sha256: string; size: number; resumedFrom: number }> {
    let have = 0;
    if (options.resume) {
      // lstat, not stat: a link planted at the partial file's name (a shared folder) must not redirect the write.
      const st = await lstat(outPath).catch(() => undefined);
      if (st && !st.isFile()) {
        throw ioError(
          `The partial download ${outPath} is not a regular file (a link?); it was left alone`,
          Object.assign(new Error("not a regular file"), { code: "ELOOP" }),
        );
      }
      have = st?.size ?? 0;
    }
    const ranged = have > 0;
    let r = await this.fetch(path, { headers: this.headers(ranged ? { range: `bytes=${have}-` } : {}) });
    if (ranged && r.status === 416) {
      await r.body?.cancel();
      have = 0;
      r = await this.fetch(path, { headers: this.headers() });
    }
    if (!r.ok || !r.body) return this.fail(r);
    if (r.status !== 206) have = 0;
    const expected = r.headers.get("x-sealpost-sha256") ?? undefined;
    const length = Number(r.headers.get("content-length") ?? Number.NaN);
    const total = Number.isFinite(length) ? length + have : undefined;
    const hash = createHash("sha256");
    if (have > 0) {
      // The bytes already here count towards the hash of the whole file.
      for await (const chunk of createReadStream(outPath, { start: 0, end: have - 1 })) hash.update(chunk as Buffer);
    }
    let size = have;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length;
        hash.update(chunk);
        onProgress?.(size, total);
        cb(null, chunk);
      },
    });
    // O_NOFOLLOW: never write through a symbolic link put in place of the partial file.
    const flags =
      constants.O_WRONLY |
      constants.O_CREAT |
      constants.O_NOFOLLOW |
      (have > 0 ? constants.O_APPEND : constants.O_TRUNC);
    try {
      const fh = await open(outPath, flags, 0o600);
      await pipeline(
        Readable.fromWeb(r.body as import("node:stream/web").ReadableStream),
        meter,
        fh.createWriteStream(),
      );
    } catch (e) {
      await r.body.cancel().catch(() => {});
      if ((e as NodeJS.ErrnoException).code === "ELOOP") {
        throw ioError(`The partial download ${outPath} is a link; it was left alone`, e);
      }
      throw e;
    }
    const sha256 = hash.digest("hex");
    if (expected && expected !== sha256) {
      await rm(outPath, { force: true });
      throw new RemoteError("HASH_MISMATCH", "The downloaded file's SHA-256 is not what the server recorded.", {
        hint: "Download again; if it persists, report it to the sealpost operators.",
        details: { expected, got: sha256 },
      });
    }
    return { sha256, size, resumedFrom: have };
  }
}

import { createHash } from "node:crypto";
import { constants, createReadStream, readFileSync } from "node:fs";
import { lstat, open, rm } from "node:fs/promises";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  ApiError,
  type ClientOptions,
  type EndpointMethods,
  type FileDownload,
  type InputOf,
  type JsonEndpointName,
  type LoginSigner,
  type OutputOf,
  SealpostClient,
} from "@sealpost/client";
import { caFetch, fileBody, nodeStreamOf } from "@sealpost/client/node";
import { type KeyEntry, keyHandleOf } from "@sealpost/pki";
import {
  type CaseDto,
  type CaseListQuery,
  canonicalJson,
  EXIT_CODES,
  type Endpoints,
  type LoginResponse,
  type LoginStatement,
  type ReceiptRequest,
  type ReceiptStatement,
} from "@sealpost/protocol";
import { ioError } from "../files.js";
import { memoryKeeper } from "../memory.js";
import { RemoteError } from "./errors.js";
import { TreeHeadGuard } from "./tree-heads.js";
import { probeServerCertificate } from "./tls-probe.js";

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

/** A login signer over the key entry's handle (PKCS#12, PEM or a token): the key never leaves its holder. */
export function entrySigner(key: KeyEntry): LoginSigner {
  return {
    certSha256: key.cert.sha256,
    sign: async (data) => {
      const handle = keyHandleOf(key);
      const scheme = handle.algorithm === "ec" ? "ecdsa" : "rsa-pkcs1";
      return (await handle.sign(Buffer.from(data), { scheme, hash: "sha256" })).toString("base64");
    },
  };
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

/** The CLI's RemoteError for a client error: the server's code and status, the exit code that follows from them. */
function remoteError(e: unknown): unknown {
  if (!(e instanceof ApiError)) return e;
  if (e.code === "BAD_URL")
    return new RemoteError("USAGE", e.message, { exitCode: 2, ...(e.hint ? { hint: e.hint } : {}) });
  return new RemoteError(e.code, e.message, {
    cause: e,
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.hint
      ? { hint: e.hint }
      : e.status === 401
        ? { hint: "Run: sealpost login --server URL --key KEYSTORE" }
        : {}),
    ...(e.details ? { details: e.details } : {}),
  });
}

/**
 * remoteError, and for an untrusted server certificate the certificate's issuer and SHA-256 (read by a separate
 * connection that sends nothing), exit 8.
 */
async function describedError(e: unknown, base: string): Promise<unknown> {
  if (!(e instanceof ApiError) || e.code !== "SERVER_CERT_UNTRUSTED") return remoteError(e);
  const cert = await probeServerCertificate(base);
  return new RemoteError(
    e.code,
    cert
      ? `${e.message.replace(/\.$/, "")}: issued by ${cert.issuer} to ${cert.subject}, SHA-256 ${cert.sha256}.`
      : e.message,
    {
      cause: e,
      exitCode: EXIT_CODES.CERTIFICATE,
      ...(e.hint ? { hint: e.hint } : {}),
      details: { ...e.details, ...(cert ? { issuer: cert.issuer, subject: cert.subject, sha256: cert.sha256 } : {}) },
    },
  );
}

async function mapped<T>(p: Promise<T>, base: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw await describedError(e, base);
  }
}

/** Reads a --ca / config "ca" file: PEM CA certificates trusted for the server's TLS certificate. */
function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw ioError(`Cannot read the CA certificate ${file}`, e);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new RemoteError("USAGE", `${file} holds no PEM certificate.`, {
      exitCode: EXIT_CODES.USAGE,
      hint: "Give the internal CA's certificate in PEM (-----BEGIN CERTIFICATE-----) with --ca or the config's \"ca\".",
    });
  }
  return pem;
}

/**
 * The relay server's API as the CLI uses it: @sealpost/client (typed from the endpoint table) with the CLI's error
 * type (RemoteError, whose exit code follows the server's status) and its file policy: streamed uploads from a file,
 * downloads straight to a file (mode 0600, never through a link), hashed on the way and resumable. Every response's
 * signed tree head is checked before its body is used (TreeHeadGuard: exit 6 when the relay's log shrank or forked).
 */
export class RemoteClient {
  readonly api: SealpostClient;
  /** Checks the signed tree head of every response against the heads kept beside the session (tree-heads.ts). */
  readonly treeHeads: TreeHeadGuard;
  /** The fetch trusting `options.ca` (undefined: the global fetch). */
  readonly fetch: typeof globalThis.fetch | undefined;

  /** `options.ca`: a PEM file of CA certificates trusted for the server's TLS certificate besides the system's. */
  constructor(server: string, token?: string, options: { ca?: string } = {}) {
    const fetch = options.ca ? caFetch(readCa(options.ca)) : undefined;
    const clientOptions: ClientOptions = { server, ...(token ? { token } : {}), ...(fetch ? { fetch } : {}) };
    try {
      this.api = new SealpostClient(clientOptions);
    } catch (e) {
      throw remoteError(e);
    }
    this.treeHeads = new TreeHeadGuard(this.api.base, fetch ? { fetch } : {});
    this.fetch = fetch;
    clientOptions.onResponse = (r) => this.treeHeads.check(r);
  }

  /** Origin and path prefix of the server's API. */
  get base(): string {
    return this.api.base;
  }

  get origin(): string {
    return this.api.origin;
  }

  get token(): string | undefined {
    return this.api.token;
  }

  /** Calls a JSON endpoint by its name in the endpoint table; server refusals become RemoteError. */
  call<K extends JsonEndpointName>(name: K, ...input: Parameters<EndpointMethods[K]>): Promise<OutputOf<Endpoints[K]>> {
    return mapped(this.api.call(name, input[0] as InputOf<Endpoints[K]> | undefined), this.base);
  }

  /** One page of the agency's cases and the next page's cursor (null on the last page). */
  listCasesPage(query: CaseListQuery): Promise<{ cases: CaseDto[]; nextCursor: string | null }> {
    return mapped(this.api.listCasesPage(query), this.base);
  }

  /** Challenge, sign, login; the client keeps the token. */
  login(key: KeyEntry): Promise<LoginResponse> {
    return mapped(this.api.loginWith(entrySigner(key)), this.base);
  }

  /** Streams `file` as the case's payload or result; `onProgress` gets the bytes sent so far. */
  async upload(
    kind: "payload" | "result",
    caseId: string,
    file: string,
    onProgress?: (bytes: number) => void,
  ): Promise<CaseDto> {
    const { body, size } = await fileBody(file, onProgress);
    return mapped(this.api.upload(kind, caseId, body, { size }), this.base);
  }

  /**
   * Streams the case's payload or result into `outPath` (mode 0600), hashing on the way, and checks the hash against
   * the server's X-Sealpost-Sha256 header (HASH_MISMATCH otherwise; the file is then removed). With `resume` and an
   * existing partial `outPath`, asks only for the missing bytes (`Range: bytes=N-`) and appends them; a server that
   * answers with the whole file (200) or finds the range unsatisfiable (416) gets a fresh full download.
   */
  async download(
    kind: "payload" | "result",
    caseId: string,
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
    let dl: FileDownload;
    try {
      dl = await this.api.download(kind, caseId, have > 0 ? { range: { start: have } } : {});
    } catch (e) {
      if (!(have > 0 && e instanceof ApiError && e.code === "RANGE_NOT_SATISFIABLE")) {
        throw await describedError(e, this.base);
      }
      have = 0;
      dl = await mapped(this.api.download(kind, caseId), this.base);
    }
    if (dl.status !== 206) have = 0;
    const total = dl.length !== undefined ? dl.length + have : undefined;
    const hash = createHash("sha256");
    if (have > 0) {
      // The bytes already here count towards the hash of the whole file.
      for await (const chunk of createReadStream(outPath, { start: 0, end: have - 1 })) hash.update(chunk as Buffer);
    }
    let size = have;
    const memory = memoryKeeper();
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length;
        memory.add(chunk.length);
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
      await pipeline(nodeStreamOf(dl), meter, fh.createWriteStream());
    } catch (e) {
      await dl.body.cancel().catch(() => {});
      if ((e as NodeJS.ErrnoException).code === "ELOOP") {
        throw ioError(`The partial download ${outPath} is a link; it was left alone`, e);
      }
      throw e;
    }
    const sha256 = hash.digest("hex");
    if (dl.sha256 && dl.sha256 !== sha256) {
      await rm(outPath, { force: true });
      throw new RemoteError("HASH_MISMATCH", "The downloaded file's SHA-256 is not what the server recorded.", {
        hint: "Download again; if it persists, report it to the sealpost operators.",
        details: { expected: dl.sha256, got: sha256 },
      });
    }
    return { sha256, size, resumedFrom: have };
  }
}

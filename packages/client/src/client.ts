import {
  type CaseDto,
  type CaseListQuery,
  canonicalJson,
  ENDPOINTS,
  type Endpoint,
  type EndpointName,
  type Endpoints,
  isApiErrorCode,
  type LoginResponse,
  type LoginStatement,
  pathOf,
} from "@sealpost/protocol";
import { ApiError } from "./errors.js";
import type { EndpointMethods, InputOf, JsonEndpointName, OutputOf } from "./types.js";
import { apiBase } from "./url.js";

/** Options of a SealpostClient. */
export interface ClientOptions {
  /** The server URL: https://..., or http:// to this machine only (see apiBase). A path prefix is kept. */
  server: string;
  /** Bearer token of a login (set by login()); none for a logged-out client. */
  token?: string;
  /** The fetch to use. Default: the global fetch (Node 20, browsers). */
  fetch?: typeof fetch;
  /** fetch's credentials mode (a browser console on the relay's origin may use "same-origin"). Default: fetch's. */
  credentials?: RequestCredentials;
  /** Sees every response before the client reads it (for example to keep a header every response carries). */
  onResponse?: (response: Response) => void | Promise<void>;
}

/** What signs a login statement: the registered signing certificate's SHA-256 and a signer of canonical JSON bytes. */
export interface LoginSigner {
  /** SHA-256 (hex) of the registered signing certificate. */
  certSha256: string;
  /** The base64 signature (SHA-256 with the signing key: RSA PKCS#1 v1.5 or ECDSA) of `data`. */
  sign(data: Uint8Array): string | Promise<string>;
}

/** A file body to upload: a web stream (give `size`), a Blob/File (browsers) or bytes. */
export type UploadBody = ReadableStream<Uint8Array> | Blob | Uint8Array;

/** A file download as the server answered it; `body` must be read or cancelled. */
export interface FileDownload {
  /** 200 for the whole file, 206 for a byte range. */
  status: 200 | 206;
  body: ReadableStream<Uint8Array>;
  /** The SHA-256 of the whole file the server recorded (X-Sealpost-Sha256). */
  sha256: string | undefined;
  /** Bytes in this response (Content-Length), when the server said. */
  length: number | undefined;
  /** For 206: the range sent and the whole file's size. */
  range: { start: number; end: number; size: number } | undefined;
  headers: Headers;
}

type FileKind = "payload" | "result";
const UPLOAD: Record<FileKind, "uploadPayload" | "uploadResult"> = { payload: "uploadPayload", result: "uploadResult" };
const DOWNLOAD: Record<FileKind, "downloadPayload" | "downloadResult"> = {
  payload: "downloadPayload",
  result: "downloadResult",
};

/**
 * The relay server's HTTP API, typed from the endpoint table of @sealpost/protocol (ENDPOINTS). One method per JSON
 * endpoint, named as in the table (`client.getCase({ params: { id } })`, `client.createCase({ body })` ...), and
 * `call(name, input)` for any of them; file uploads and downloads as web streams (upload, download); login by a
 * signer; paging helpers. Uses only fetch and web streams, so it runs in Node 20 and in browsers; Node file helpers
 * are in `@sealpost/client/node`.
 *
 * Every server refusal throws ApiError with the server's catalogue code, status, hint and details; a network
 * failure throws ApiError SERVER_UNREACHABLE, an answer that is not the API's BAD_RESPONSE.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged interface's methods are installed on the prototype below, one per JSON endpoint of ENDPOINTS
export class SealpostClient {
  /** Origin and path prefix of the API, without a trailing slash. */
  readonly base: string;
  token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.base = apiBase(options.server);
    this.token = options.token;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#options = options;
  }

  /** The server's origin as this client reaches it (what a login statement names). */
  get origin(): string {
    return new URL(this.base).origin;
  }

  /** Calls a JSON endpoint and returns its body (undefined for 204). */
  async call<K extends JsonEndpointName>(name: K, input?: InputOf<Endpoints[K]>): Promise<OutputOf<Endpoints[K]>> {
    return (await this.callWithResponse(name, input)).body;
  }

  /** Calls a JSON endpoint; returns the status, the body and the response headers (X-Next-Cursor ...). */
  async callWithResponse<K extends JsonEndpointName>(
    name: K,
    input?: InputOf<Endpoints[K]>,
  ): Promise<{ status: number; body: OutputOf<Endpoints[K]>; headers: Headers }> {
    const e: Endpoint = (ENDPOINTS as Record<string, Endpoint>)[name]!;
    const raw: unknown = input;
    const i = (raw ?? {}) as { params?: object; query?: object; headers?: object; body?: unknown };
    const headers: Record<string, string> = { ...this.#auth(), ...stringRecord(i.headers) };
    if (i.body !== undefined) headers["content-type"] = "application/json";
    const r = await this.#send(
      this.url(name, i.params as Record<string, unknown>, i.query as Record<string, unknown>),
      {
        method: e.method,
        headers,
        ...(i.body !== undefined ? { body: JSON.stringify(i.body) } : {}),
      },
    );
    if (!r.ok) return this.#fail(r);
    if (r.status === 204) {
      await r.body?.cancel();
      return { status: r.status, body: undefined as OutputOf<Endpoints[K]>, headers: r.headers };
    }
    try {
      return { status: r.status, body: (await r.json()) as OutputOf<Endpoints[K]>, headers: r.headers };
    } catch (err) {
      throw new ApiError("BAD_RESPONSE", "The server's answer is not JSON.", { cause: err, status: r.status });
    }
  }

  /** The absolute URL of an endpoint with its path parameters and query. */
  url(name: EndpointName, params?: Record<string, unknown>, query?: Record<string, unknown>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
    }
    const qs = q.toString();
    return `${this.base}${pathOf(ENDPOINTS[name], params)}${qs ? `?${qs}` : ""}`;
  }

  /**
   * Logs in with a signer: asks for a challenge, has `signer` sign the login statement (challenge, this client's origin, now) and
   * posts it. Sets `token`. Throws LOGIN_FAILED, SOURCE_NOT_ALLOWED, RATE_LIMITED ... as the server answers.
   */
  async loginWith(signer: LoginSigner): Promise<LoginResponse> {
    const ch = await this.call("challenge", { body: { certSha256: signer.certSha256 } });
    const statement: LoginStatement = {
      type: "sealpost-login",
      challenge: ch.challenge,
      origin: this.origin,
      time: new Date().toISOString(),
    };
    const signature = await signer.sign(new TextEncoder().encode(canonicalJson(statement)));
    const res = await this.call("login", {
      body: { challengeId: ch.challengeId, certSha256: signer.certSha256, statement, signature },
    });
    this.token = res.token;
    return res;
  }

  /** One page of the agency's cases and the cursor of the next (null on the last page). */
  async listCasesPage(query: CaseListQuery = {}): Promise<{ cases: CaseDto[]; nextCursor: string | null }> {
    const r = await this.callWithResponse("listCases", { query });
    return { cases: r.body, nextCursor: r.headers.get("x-next-cursor") };
  }

  /** Every case matching `query` (box, state, page size), page after page, newest change first. */
  async *allCases(query: Omit<CaseListQuery, "before"> = {}): AsyncGenerator<CaseDto> {
    let before: string | undefined;
    do {
      const page = await this.listCasesPage({ ...query, ...(before ? { before } : {}) });
      yield* page.cases;
      before = page.nextCursor ?? undefined;
    } while (before);
  }

  /**
   * Uploads a sealed file as the case's payload or result (PUT, application/octet-stream, streamed). For a web
   * stream give `size` (sent as Content-Length; the server refuses a body that ends short with UPLOAD_INCOMPLETE).
   * Returns the case after the transition.
   */
  async upload(
    kind: FileKind,
    caseId: string,
    body: UploadBody,
    options: { size?: number; signal?: AbortSignal } = {},
  ): Promise<CaseDto> {
    const headers: Record<string, string> = { ...this.#auth(), "content-type": "application/octet-stream" };
    if (options.size !== undefined) headers["content-length"] = String(options.size);
    const r = await this.#send(this.url(UPLOAD[kind], { id: caseId }), {
      method: "PUT",
      headers,
      body: body as BodyInit,
      ...(options.signal ? { signal: options.signal } : {}),
      // A stream body needs half duplex (fetch's rule for request streams). Redirects are refused: to follow one,
      // fetch would keep a copy of the whole body while it is sent, so that memory would grow with the file.
      ...(body instanceof ReadableStream ? { duplex: "half", redirect: "error" } : {}),
    } as RequestInit);
    if (!r.ok) return this.#fail(r);
    return (await r.json()) as CaseDto;
  }

  /**
   * Downloads a case's sealed payload or result: the whole file, or from byte `range.start` (to `range.end`,
   * inclusive) with a Range request. Throws RANGE_NOT_SATISFIABLE (416) when the range is outside the file, and the
   * server's refusals (FORBIDDEN, ILLEGAL_TRANSITION, FILE_GONE ...). Each download is recorded by the server.
   */
  async download(
    kind: FileKind,
    caseId: string,
    options: { range?: { start: number; end?: number }; signal?: AbortSignal } = {},
  ): Promise<FileDownload> {
    const headers: Record<string, string> = this.#auth();
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
    const r = await this.#send(this.url(DOWNLOAD[kind], { id: caseId }), {
      headers,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!r.ok || !r.body) return this.#fail(r);
    if (r.status !== 200 && r.status !== 206) {
      await r.body.cancel();
      throw new ApiError("BAD_RESPONSE", `The server answered a download with ${r.status}.`, { status: r.status });
    }
    const cl = r.headers.get("content-length");
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.headers.get("content-range") ?? "");
    return {
      status: r.status,
      body: r.body,
      sha256: r.headers.get("x-sealpost-sha256") ?? undefined,
      length: cl !== null && /^\d+$/.test(cl) ? Number(cl) : undefined,
      range: r.status === 206 && m ? { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) } : undefined,
      headers: r.headers,
    };
  }

  #auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async #send(url: string, init: RequestInit): Promise<Response> {
    let r: Response;
    try {
      r = await this.#fetch(url, {
        ...init,
        ...(this.#options.credentials ? { credentials: this.#options.credentials } : {}),
      });
    } catch (e) {
      if ((e as { name?: string }).name === "AbortError") throw e;
      throw this.#networkError(e);
    }
    await this.#options.onResponse?.(r);
    return r;
  }

  /** A failed fetch in words: untrusted TLS certificate, https to a plain port, or unreachable. */
  #networkError(e: unknown): ApiError {
    const code = causeCodes(e).find((c) => TLS_TRUST_CODES.has(c) || TLS_PROTOCOL_CODES.has(c));
    if (code && TLS_TRUST_CODES.has(code)) {
      return new ApiError(
        "SERVER_CERT_UNTRUSTED",
        `The sealpost server at ${this.base} presented a TLS certificate this computer does not trust (${code}).`,
        {
          cause: e,
          hint: 'If your organisation runs its own CA, trust its certificate with --ca FILE (or "ca" in the config file); otherwise do not go on and tell your sealpost operator.',
          details: { tlsCode: code },
        },
      );
    }
    if (code) {
      return new ApiError("PROTOCOL_MISMATCH", `${this.base} does not answer in TLS: is it a plain http:// port?`, {
        cause: e,
        hint: "Use the server's https:// URL with its TLS port (http:// is only for a server on this machine).",
        details: { tlsCode: code },
      });
    }
    return new ApiError("SERVER_UNREACHABLE", `Cannot reach the sealpost server at ${this.base}.`, {
      cause: e,
      hint: "Check the URL, your network, and that the server is running.",
    });
  }

  async #fail(r: Response): Promise<never> {
    let body: { error?: { code?: unknown; message?: unknown; hint?: unknown; details?: unknown } } = {};
    try {
      body = (await r.json()) as typeof body;
    } catch {
      /* not JSON */
    }
    const e = body?.error;
    if (!e || !isApiErrorCode(e.code)) {
      throw new ApiError("BAD_RESPONSE", `The server answered ${r.status} ${r.statusText} without an error body.`, {
        status: r.status,
      });
    }
    throw new ApiError(e.code, typeof e.message === "string" ? e.message : e.code, {
      status: r.status,
      ...(typeof e.hint === "string" ? { hint: e.hint } : {}),
      ...(e.details && typeof e.details === "object" ? { details: e.details as Record<string, unknown> } : {}),
    });
  }
}

// One method per JSON endpoint, named as in ENDPOINTS.
export interface SealpostClient extends EndpointMethods {}
for (const [name, e] of Object.entries(ENDPOINTS) as [EndpointName, Endpoint][]) {
  const json =
    !e.upload && !Object.values(e.responses).some((r) => (r.schema as { format?: string }).format === "binary");
  if (!json || name in SealpostClient.prototype) continue;
  Object.defineProperty(SealpostClient.prototype, name, {
    value: function (this: SealpostClient, input?: unknown) {
      return this.call(name as JsonEndpointName, input as never);
    },
    writable: true,
    configurable: true,
  });
}

function stringRecord(o: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}

/** OpenSSL / Node codes of a TLS certificate the client does not accept. */
const TLS_TRUST_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
/** Codes of a TLS handshake answered by something that does not speak TLS (an http:// port). */
const TLS_PROTOCOL_CODES = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "EPROTO"]);

/** The `code` of an error and of its causes (fetch wraps the socket's error in `cause`), outermost first. */
function causeCodes(e: unknown): string[] {
  const out: string[] = [];
  for (let cur = e, depth = 0; cur && typeof cur === "object" && depth < 5; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === "string") out.push(c);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

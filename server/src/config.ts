import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { readFile, rename, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { ServerError } from "./errors.js";
import type { RateLimitConfig } from "./auth/rate-limit.js";
import type { PostgresConfig } from "./db/postgres.js";
import type { SmtpSettings } from "./mail/worker.js";

/** SMTP settings for the mail worker (server/src/mail/worker.ts). */
export type SmtpConfig = SmtpSettings;

/** Trust anchors and revocation sources used to validate registered certificates. Paths are relative to the data folder unless absolute. */
export interface TrustConfig {
  /** PEM bundle of trust anchors. Default "trust/anchors.pem" (init copies --trust there). */
  anchors: string;
  /** PEM bundle of intermediate CAs (optional). */
  intermediates?: string;
  /** CRL files (DER or PEM). */
  crls?: string[];
  /** A folder of CRL files. */
  crlDir?: string;
  /** Revocation checking. Default "require": a certificate whose revocation status is unknown is refused. */
  revocation: "require" | "prefer" | "off";
  /** More CRL distribution point URLs (http://) to fetch besides those the CAs' and registered certificates name. */
  crlUrls?: string[];
  /**
   * A local mirror of the distribution points: its origin replaces theirs, the path is kept (e.g.
   * "http://crl-mirror.internal:8080"). Default: the URLs as the certificates name them.
   */
  crlMirror?: string;
  /**
   * The CRL refresh job (server/src/crls, lease "crl-refresh"): every `intervalMs` (default 3 600 000: 1 hour) it
   * reads `crls` and `crlDir` again and, when `fetch` (default true), fetches the distribution points; ops are
   * warned (status, log, one e-mail per CRL) `warnBeforeMs` (default 86 400 000: 24 hours) before a CRL's
   * nextUpdate when no newer one was found.
   */
  crlRefresh?: { intervalMs?: number; warnBeforeMs?: number; fetch?: boolean };
}

/** `<data>/config.json`. Every field has a default (see DEFAULT_CONFIG). */
export interface ServerConfig {
  /** HOST:PORT to listen on. Default "127.0.0.1:8443". */
  listen: string;
  /** TLS certificate and key files; without them the server listens on loopback only. */
  tls?: { cert: string; key: string };
  smtp?: SmtpConfig;
  /** Mail worker tuning (see MailWorkerConfig): pass interval (default 15 000 ms), attempts (default 8), backoff. */
  mail?: { pollMs?: number; maxAttempts?: number; backoffBaseMs?: number; backoffMaxMs?: number };
  /**
   * Leases of the background jobs (mail, retention, drop scheduler), which run on one instance at a time: a lease
   * lasts `ttlMs` (default 30 000) and is renewed every `renewMs` (default 10 000). A killed instance's jobs move to
   * another instance within about ttlMs + renewMs.
   */
  jobs?: { ttlMs?: number; renewMs?: number };
  /**
   * The lease that keeps one upload at a time per case (cases/upload-lease.ts): it lasts `ttlMs` (default 120 000)
   * and the upload renews it every `renewMs` (default 30 000; must be below ttlMs). An upload whose instance was
   * killed blocks a retry of the same case (409 UPLOAD_IN_PROGRESS) until its lease has run out, at most ttlMs.
   */
  uploadLease?: { ttlMs?: number; renewMs?: number };
  /**
   * An upload must keep moving: one that delivers fewer than `minBytes` (default 65 536) in any `intervalMs`
   * (default 30 000) is cut off with 400 UPLOAD_INCOMPLETE (details.reason "too_slow"); its temporary file is
   * removed and the case's upload lease given back.
   */
  uploadProgress?: { minBytes?: number; intervalMs?: number };
  /**
   * Concurrent uploads: at most `perStaff` (default 2) per staff member and `total` (default 16) on the relay (all
   * instances sharing a database) at once; one more is refused before its body is read with 409
   * UPLOAD_IN_PROGRESS (details.scope "staff" or "relay").
   */
  uploadLimits?: { perStaff?: number; total?: number };
  /**
   * HTTP deadlines: a request's headers must arrive within `headersMs` (default 30 000; 408 and the connection is
   * closed otherwise), and the body of any request but an upload (JSON, at most 1 MiB) within `bodyMs` of its start
   * (default 60 000; the connection is closed otherwise). Uploads are bounded by uploadProgress instead.
   */
  httpTimeouts?: { headersMs?: number; bodyMs?: number };
  /**
   * With PostgreSQL (several instances on one file store): temporary upload files and unrecorded stored files are
   * removed at start only when untouched this long. Default 1 hour. (SQLite: at once.)
   */
  sweepGraceMs?: number;
  /**
   * SFTP drops: every SFTP operation fails (SFTP_IO, details.reason "timeout", the connection closed) after
   * `opTimeoutMs` without a reply or a new piece (default 30 000); DropService.stop() waits at most `stopTimeoutMs`
   * (default 60 000) for runs in progress; a pull looks at most at `maxListEntries` entries of its outbox listing
   * (default 10 000; the run records LIST_TRUNCATED and the rest waits for later runs).
   */
  drops?: { opTimeoutMs?: number; stopTimeoutMs?: number; maxListEntries?: number };
  /** Retention worker interval. Default 1 hour. */
  retentionIntervalMs?: number;
  /** Days after a case ends before its sealed files are purged. Default 30. */
  retentionDays: number;
  /** Largest accepted upload in bytes. Default 2 GiB. */
  maxUploadBytes: number;
  /** Lifetime of a login token in seconds. Default 3600 (1 hour). */
  tokenTtlSeconds: number;
  /**
   * Per-source-address token bucket for the unauthenticated auth endpoints (POST /v1/auth/challenge and
   * /v1/auth/login): at most `burst` requests at once, `perMinute` regained a minute. Default 60 and 60.
   * Over the limit: 429 RATE_LIMITED with Retry-After.
   */
  authRateLimit?: Partial<RateLimitConfig>;
  /** A web console session ends after this many seconds without a request. Default 900 (15 minutes). */
  consoleIdleSeconds?: number;
  /**
   * Folder of the built web console (index.html and assets/), served at `/`. Default: the console package's build
   * (`packages/console/dist` of the installation). Relative paths are taken from the data folder.
   */
  consoleDir?: string;
  /**
   * The URL staff use to reach the server (mails, and the login origin check: a login must be signed for this
   * origin). Required for a server that listens on anything but loopback (startServer refuses otherwise); without
   * it only loopback origins on the listening port are accepted. Set by `init --public-url` or
   * `sealpost-server config --public-url`; checked by checkPublicUrl.
   */
  publicUrl?: string;
  trust: TrustConfig;
  /**
   * PostgreSQL instead of the default SQLite file `<data>/sealpost.db`: `{ url: "postgres://USER@HOST:PORT/DB",
   * passwordFile? }`. The URL must not hold a password (see PostgresConfig for where it comes from). Several relay
   * instances can share one PostgreSQL database and one file store.
   */
  database?: PostgresConfig;
}

export const DEFAULT_CONFIG: ServerConfig = {
  listen: "127.0.0.1:8443",
  retentionDays: 30,
  maxUploadBytes: 2 * 1024 ** 3,
  tokenTtlSeconds: 3600,
  trust: { anchors: "trust/anchors.pem", revocation: "require" },
};

/** `<data>/config.json` path. */
export function configPath(dataDir: string): string {
  return join(dataDir, "config.json");
}

/**
 * Loads `<data>/config.json` over the defaults. Throws ServerError BAD_REQUEST when missing, not JSON, or when
 * publicUrl is not a valid public URL (checkPublicUrl).
 */
export function loadConfig(dataDir: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(configPath(dataDir), "utf8");
  } catch (e) {
    if (!existsSync(dataDir)) {
      throw new ServerError("BAD_REQUEST", `There is no data folder at ${resolve(dataDir)}.`, {
        cause: e,
        hint: `Check --data, or create the folder with \`sealpost-server init --data ${dataDir} ...\` first.`,
      });
    }
    throw new ServerError("BAD_REQUEST", `No server configuration at ${configPath(dataDir)}.`, {
      cause: e,
      hint: "Run `sealpost-server init --data DIR ...` first.",
    });
  }
  let parsed: Partial<ServerConfig>;
  try {
    parsed = JSON.parse(text) as Partial<ServerConfig>;
  } catch (e) {
    throw new ServerError("BAD_REQUEST", `${configPath(dataDir)} is not valid JSON.`, { cause: e });
  }
  if (parsed.publicUrl !== undefined) parsed.publicUrl = checkPublicUrl(String(parsed.publicUrl));
  const config = { ...DEFAULT_CONFIG, ...parsed, trust: { ...DEFAULT_CONFIG.trust, ...parsed.trust } };
  try {
    uploadLeaseTimes(config);
    uploadProgressOf(config);
    uploadLimitsOf(config);
    httpTimeoutsOf(config);
  } catch (e) {
    throw new ServerError("BAD_REQUEST", `${configPath(dataDir)}: ${(e as Error).message}`);
  }
  return config;
}

/**
 * The upload lease's times from `config.uploadLease` with their defaults (120 000 and 30 000 ms). Throws RangeError
 * unless both are positive integers and renewMs < ttlMs.
 */
export function uploadLeaseTimes(config: Pick<ServerConfig, "uploadLease">): { ttlMs: number; renewMs: number } {
  const ttlMs = config.uploadLease?.ttlMs ?? 120_000;
  const renewMs = config.uploadLease?.renewMs ?? 30_000;
  if (!Number.isInteger(ttlMs) || !Number.isInteger(renewMs) || renewMs < 1 || renewMs >= ttlMs) {
    throw new RangeError("uploadLease needs positive whole milliseconds with renewMs below ttlMs.");
  }
  return { ttlMs, renewMs };
}

/** A config path resolved against the data folder. */
export function dataPath(dataDir: string, p: string): string {
  return isAbsolute(p) ? p : join(dataDir, p);
}

/** Splits "HOST:PORT" / "[::1]:PORT". */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || port > 65535) {
    throw new ServerError("BAD_REQUEST", `--listen must be HOST:PORT (e.g. 127.0.0.1:8443), not "${listen}".`);
  }
  return { host: m[1], port };
}

/** True for 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * A public URL as config.json keeps it: an absolute https URL (http only for a loopback host), without user name,
 * password, query or fragment; returned as its origin (e.g. "https://sealpost.example.gov.tw"). Throws ServerError
 * BAD_REQUEST naming the problem.
 */
export function checkPublicUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch (e) {
    throw new ServerError("BAD_REQUEST", `The public URL ${JSON.stringify(text)} is not a URL.`, {
      cause: e,
      hint: "Give the address staff use, e.g. --public-url https://sealpost.example.gov.tw",
    });
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopback(host))) {
    throw new ServerError(
      "BAD_REQUEST",
      `The public URL must use https:// (http:// only on loopback), not ${u.protocol}.`,
    );
  }
  if (u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "")) {
    throw new ServerError(
      "BAD_REQUEST",
      `The public URL must be scheme, host and port only, not ${JSON.stringify(text)}.`,
      {
        hint: "e.g. https://sealpost.example.gov.tw or https://sealpost.example.gov.tw:8443",
      },
    );
  }
  return u.origin;
}

/**
 * Sets `publicUrl` in `<data>/config.json` (checked by checkPublicUrl; the rest of the file is kept), replacing the
 * file atomically (written beside it, then renamed; mode 0600). Returns the stored origin. A running server reads
 * the file at start: restart it.
 */
export async function setPublicUrl(dataDir: string, url: string): Promise<string> {
  const origin = checkPublicUrl(url);
  const path = configPath(dataDir);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ServerError("BAD_REQUEST", `No readable server configuration at ${path}.`, {
      cause: e,
      hint: "Run `sealpost-server init --data DIR ...` first.",
    });
  }
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...raw, publicUrl: origin }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return origin;
}

const positiveInt = (n: unknown): boolean => Number.isInteger(n) && (n as number) > 0;

/**
 * The upload progress floor from `config.uploadProgress` with its defaults (65 536 bytes per 30 000 ms). Throws
 * RangeError unless both are positive integers.
 */
export function uploadProgressOf(config: Pick<ServerConfig, "uploadProgress">): {
  minBytes: number;
  intervalMs: number;
} {
  const minBytes = config.uploadProgress?.minBytes ?? 65_536;
  const intervalMs = config.uploadProgress?.intervalMs ?? 30_000;
  if (!positiveInt(minBytes) || !positiveInt(intervalMs)) {
    throw new RangeError("uploadProgress needs a positive whole minBytes and intervalMs.");
  }
  return { minBytes, intervalMs };
}

/**
 * The HTTP deadlines from `config.httpTimeouts` with their defaults (headers 30 000 ms, body 60 000 ms). Throws
 * RangeError unless both are positive integers.
 */
export function httpTimeoutsOf(config: Pick<ServerConfig, "httpTimeouts">): { headersMs: number; bodyMs: number } {
  const headersMs = config.httpTimeouts?.headersMs ?? 30_000;
  const bodyMs = config.httpTimeouts?.bodyMs ?? 60_000;
  if (!positiveInt(headersMs) || !positiveInt(bodyMs)) {
    throw new RangeError("httpTimeouts needs positive whole milliseconds (headersMs, bodyMs).");
  }
  return { headersMs, bodyMs };
}

/**
 * The concurrent upload limits from `config.uploadLimits` with their defaults (2 per staff member, 16 in all).
 * Throws RangeError unless both are positive integers.
 */
export function uploadLimitsOf(config: Pick<ServerConfig, "uploadLimits">): { perStaff: number; total: number } {
  const perStaff = config.uploadLimits?.perStaff ?? 2;
  const total = config.uploadLimits?.total ?? 16;
  if (!positiveInt(perStaff) || !positiveInt(total)) {
    throw new RangeError("uploadLimits needs a positive whole perStaff and total.");
  }
  return { perStaff, total };
}

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import { closeContext, createContext } from "./app.js";
import { dataPath, type ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { ServerError } from "./errors.js";
import { buildApp } from "./http/app.js";
import type { Logger } from "./log.js";
import { type RunningJobs, startJobs } from "./jobs/index.js";
import { createServices, type Services } from "./services.js";

/** A running server. `close()` stops the listener, background workers, and closes the database. */
export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  services: Services;
  /** The background jobs and the leases this instance holds (jobs.runner.holds(name)). */
  jobs: RunningJobs;
  /** e.g. "http://127.0.0.1:41234". */
  url: string;
  tls: boolean;
  close(): Promise<void>;
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
 * Opens the data folder and listens. Without TLS (options.tls or config.tls) only a loopback address is accepted
 * (ServerError BAD_REQUEST otherwise): bearer tokens and sealed files must not cross a network in clear.
 * With TLS but without `publicUrl` it logs a warning: the login origin check then trusts the Host header.
 * Starts the background jobs (jobs.ts); `close()` stops them.
 */
export async function startServer(
  dataDir: string,
  options: { listen?: string; tls?: { cert: string; key: string }; log: Logger; config?: Partial<ServerConfig> },
): Promise<RunningServer> {
  const ctx = await createContext(dataDir, { log: options.log, ...(options.config ? { config: options.config } : {}) });
  const tlsFiles = options.tls ?? ctx.config.tls;
  const { host, port } = parseListen(options.listen ?? ctx.config.listen);
  if (!tlsFiles && !isLoopback(host)) {
    await closeContext(ctx);
    throw new ServerError("BAD_REQUEST", `Refusing to listen on ${host} without TLS.`, {
      hint: "Give --tls-cert and --tls-key, or listen on 127.0.0.1.",
    });
  }
  let https: { cert: Buffer; key: Buffer } | undefined;
  try {
    https = tlsFiles ? { cert: readTls(dataDir, tlsFiles.cert), key: readTls(dataDir, tlsFiles.key) } : undefined;
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  if (https && !ctx.config.publicUrl) {
    // Without publicUrl the login origin check falls back to the Host header, which the client chooses.
    options.log.warn(
      "publicUrl is not set: logins accept the origin named by each request's Host header. Set publicUrl in config.json to the URL staff use (e.g. https://sealpost.example.gov.tw) so a relaying phishing site cannot have logins signed for its own name.",
      { config: "publicUrl" },
    );
  }
  const services = createServices(ctx);
  const app = await buildApp(ctx, { services, ...(https ? { https } : {}) });
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close().catch(() => {});
    await closeContext(ctx);
    throw listenError(e, host, port);
  }
  const addr = app.server.address();
  const actualPort = typeof addr === "object" && addr ? addr.port : port;
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  const url = `${https ? "https" : "http"}://${shownHost}:${actualPort}`;
  const jobs = await startJobs(ctx, services);
  return {
    app,
    ctx,
    services,
    jobs,
    url,
    tls: !!https,
    async close() {
      await app.close();
      await jobs.stop();
      await closeContext(ctx);
    },
  };
}

/** A TLS certificate or key file (relative to the data folder); BAD_REQUEST naming the file when it cannot be read. */
function readTls(dataDir: string, file: string): Buffer {
  const path = dataPath(dataDir, file);
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ServerError(
      "BAD_REQUEST",
      `Cannot read the TLS file ${path} (${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code}).`,
      {
        cause: e,
        hint: "Check --tls-cert and --tls-key (or config.json's tls): PEM files the server's user can read.",
      },
    );
  }
}

/** The listen failure in words: the address in use, not allowed, or not on this machine. */
function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  if (code === "EADDRINUSE") {
    return new ServerError("BAD_REQUEST", `The address ${where} is already in use.`, {
      cause: e,
      hint: "Another sealpost-server (or another program) listens there: stop it, or choose another address with --listen HOST:PORT.",
    });
  }
  if (code === "EACCES") {
    return new ServerError("BAD_REQUEST", `Not allowed to listen on ${where}.`, {
      cause: e,
      hint: "Ports below 1024 need privileges: listen on a higher port (e.g. 8443) behind a proxy, or grant the capability.",
    });
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
    return new ServerError("BAD_REQUEST", `${host} is not an address of this machine.`, {
      cause: e,
      hint: "Give --listen with one of this machine's addresses, e.g. 127.0.0.1:8443.",
    });
  }
  return e;
}

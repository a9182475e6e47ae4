import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import { closeContext, createContext } from "./app.js";
import { dataPath, isLoopback, parseListen, type ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { ServerError } from "./errors.js";
import { buildApp } from "./http/app.js";
import type { Logger } from "./log.js";
import { type RunningJobs, startJobs } from "./jobs/index.js";
import { createServices, type Services } from "./services.js";

export { isLoopback, parseListen };

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

/**
 * Opens the data folder and listens. Without TLS (options.tls or config.tls) only a loopback address is accepted
 * (ServerError BAD_REQUEST otherwise): bearer tokens and sealed files must not cross a network in clear. Without
 * `publicUrl` too (logins are bound to it); with TLS on loopback without it, it logs a warning that only loopback
 * origins log in.
 * `ctx.config.listen` becomes the address actually listened on (port 0 resolved).
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
  if (!isLoopback(host) && !ctx.config.publicUrl) {
    await closeContext(ctx);
    throw new ServerError("BAD_REQUEST", `Refusing to listen on ${host} without a public URL.`, {
      hint: "Logins are bound to the URL staff use: run `sealpost-server config --data DIR --public-url https://sealpost.example.gov.tw` (or init with --public-url), or listen on 127.0.0.1.",
    });
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
  // The login origin check (without publicUrl) accepts the loopback origins of the port actually listened on.
  ctx.config.listen = `${shownHost}:${actualPort}`;
  if (https && !ctx.config.publicUrl) {
    options.log.warn(
      `publicUrl is not set: logins are accepted only when signed for a loopback origin on port ${actualPort} (the request's Host header is never trusted). Set it with \`sealpost-server config --public-url URL\` before staff reach this server by another name.`,
      { config: "publicUrl" },
    );
  }
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

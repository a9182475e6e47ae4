import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import { createContext } from "./app.js";
import { dataPath, type ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { ServerError } from "./errors.js";
import { buildApp } from "./http/app.js";
import type { Logger } from "./log.js";
import { startMailWorker } from "./mail/worker.js";
import { type CrlRunResult, startCrlRefreshWorker } from "./crls/index.js";
import { startRetentionWorker } from "./retention/worker.js";

/** A running server. `close()` stops the listener, background workers, and closes the database. */
export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** e.g. "http://127.0.0.1:41234". */
  url: string;
  tls: boolean;
  /** Runs a CRL refresh now (after the one in progress, if any): ops tools and tests. */
  refreshCrls(): Promise<CrlRunResult>;
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
 * Starts the mail worker (when SMTP is configured) and the retention worker; `close()` stops them.
 */
export async function startServer(
  dataDir: string,
  options: {
    listen?: string;
    tls?: { cert: string; key: string };
    log: Logger;
    config?: Partial<ServerConfig>;
    /** The clock of the trust policy and the CRL refresh job (tests move it). Default: the current time. */
    now?: () => Date;
  },
): Promise<RunningServer> {
  const ctx = await createContext(dataDir, {
    log: options.log,
    ...(options.config ? { config: options.config } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const tlsFiles = options.tls ?? ctx.config.tls;
  const { host, port } = parseListen(options.listen ?? ctx.config.listen);
  if (!tlsFiles && !isLoopback(host)) {
    ctx.db.close();
    throw new ServerError("BAD_REQUEST", `Refusing to listen on ${host} without TLS.`, {
      hint: "Give --tls-cert and --tls-key, or listen on 127.0.0.1.",
    });
  }
  const https = tlsFiles
    ? { cert: readFileSync(dataPath(dataDir, tlsFiles.cert)), key: readFileSync(dataPath(dataDir, tlsFiles.key)) }
    : undefined;
  if (https && !ctx.config.publicUrl) {
    // Without publicUrl the login origin check falls back to the Host header, which the client chooses.
    options.log.warn(
      "publicUrl is not set: logins accept the origin named by each request's Host header. Set publicUrl in config.json to the URL staff use (e.g. https://sealpost.example.gov.tw) so a relaying phishing site cannot have logins signed for its own name.",
      { config: "publicUrl" },
    );
  }
  const app = await buildApp(ctx, https ? { https } : {});
  await app.listen({ host, port });
  const addr = app.server.address();
  const actualPort = typeof addr === "object" && addr ? addr.port : port;
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  const url = `${https ? "https" : "http"}://${shownHost}:${actualPort}`;
  const workers = startWorkers(ctx);
  return {
    app,
    ctx,
    url,
    tls: !!https,
    refreshCrls: () => workers.refreshCrls(),
    async close() {
      await app.close();
      await workers.stop();
      ctx.db.close();
    },
  };
}

/**
 * The mail worker (when SMTP is configured: otherwise notices wait in the outbox, visible in `status`), the
 * retention worker (purges sealed files `retentionDays` after a case ends) and the CRL refresh job.
 */
function startWorkers(ctx: ServerContext): { stop(): Promise<void>; refreshCrls(): Promise<CrlRunResult> } {
  if (!ctx.config.smtp) ctx.log.warn("no SMTP server configured: notices stay queued in the mail outbox");
  const mail = ctx.config.smtp
    ? startMailWorker(ctx.db, { smtp: ctx.config.smtp, ...ctx.config.mail }, ctx.log)
    : undefined;
  const retention = startRetentionWorker(ctx.db, {
    store: ctx.store,
    retentionDays: ctx.config.retentionDays,
    log: ctx.log,
    ...(ctx.config.retentionIntervalMs !== undefined ? { intervalMs: ctx.config.retentionIntervalMs } : {}),
  });
  const crls = startCrlRefreshWorker(ctx.crls, {
    log: ctx.log,
    ...(ctx.config.crlRefresh?.intervalMs !== undefined ? { intervalMs: ctx.config.crlRefresh.intervalMs } : {}),
  });
  return {
    refreshCrls: () => crls.runOnce(),
    async stop() {
      await crls.stop();
      await retention.stop();
      await mail?.stop();
    },
  };
}

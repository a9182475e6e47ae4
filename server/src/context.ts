import type { CertInfo } from "@sealpost/pki";
import type { Clock } from "./clock.js";
import type { LiveTrust } from "./crls/live-trust.js";
import type { ServerConfig } from "./config.js";
import type { Db } from "./db/db.js";
import type { CertificateValidator } from "./registry/certificates.js";
import type { Logger } from "./log.js";
import type { FileStore } from "./files/store.js";

/** Everything a server module needs, built once at start (see app.ts createContext). */
export interface ServerContext {
  dataDir: string;
  /** The database as units of work over the domains' repositories (Kysely; SQLite or PostgreSQL). */
  db: Db;
  clock: Clock;
  /** This relay instance's id (job leases, drop runs, logs): host name, process id and random digits. */
  instance: string;
  config: ServerConfig;
  store: FileStore;
  /** The trust policy over the current CRLs (server/src/crls: refreshed by the "crl-refresh" job). */
  trust: LiveTrust;
  /** Validates registered certificates with `trust` and the configured intermediates. */
  validator: CertificateValidator;
  /** Intermediate CAs from the configuration, added to every validation. */
  intermediates: CertInfo[];
  log: Logger;
}

/** Who is making a request (after authentication). */
export interface Actor {
  staffId: string;
  name: string;
  email: string;
  agency: string;
  role: "staff" | "admin" | "ops";
  certId: string;
  source: string;
}

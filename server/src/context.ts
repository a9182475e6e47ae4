import type { CertInfo, TrustPolicy } from "@sealpost/pki";
import type Database from "better-sqlite3";
import type { Clock } from "./clock.js";
import type { ServerConfig } from "./config.js";
import type { Db } from "./db/db.js";
import type { CertificateValidator } from "./registry/certificates.js";
import type { Logger } from "./log.js";
import type { FileStore } from "./files/store.js";

/** A notice for the mail outbox: inserted in the caller's transaction, sent later by the mail worker. */
export interface Notice {
  to: string[];
  subject: string;
  text: string;
  kind: string;
  caseId?: string;
}

/** Everything a server module needs, built once at start (see app.ts createContext). */
export interface ServerContext {
  dataDir: string;
  /** The SQLite connection of the domains not yet on `data` (removed with the last of them). */
  db: Database.Database;
  /** The database as units of work over the domains' repositories (Kysely; SQLite or PostgreSQL). */
  data: Db;
  clock: Clock;
  config: ServerConfig;
  store: FileStore;
  trust: TrustPolicy;
  /** Validates registered certificates with `trust` and the configured intermediates. */
  validator: CertificateValidator;
  /** Intermediate CAs from the configuration, added to every validation. */
  intermediates: CertInfo[];
  log: Logger;
  /** Enqueues a notice inside the current transaction (the mail outbox). */
  notify(notice: Notice): void;
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

import type { CertInfo, TrustPolicy } from "@sealpost/pki";
import type Database from "better-sqlite3";
import type { ServerConfig } from "./config.js";
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
  db: Database.Database;
  config: ServerConfig;
  store: FileStore;
  trust: TrustPolicy;
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

import type { Clock } from "../clock.js";
import type { ServerConfig } from "../config.js";
import type { Db } from "../db/db.js";
import type { FileStore } from "../files/store.js";
import type { Logger } from "../log.js";
import type { CertificateValidator } from "../registry/certificates.js";

/** What the cases domain works with. `config` is read at each call. */
export interface CaseDeps {
  db: Db;
  clock: Clock;
  validator: CertificateValidator;
  store: FileStore;
  log: Logger;
  config: Pick<ServerConfig, "publicUrl" | "uploadLease" | "uploadLimits">;
}

import { readFile } from "node:fs/promises";
import { type CertInfo, parseCertificates } from "@sealpost/pki";
import { dataPath, type ServerConfig } from "./config.js";
import { LiveTrust } from "./crls/live-trust.js";
import { refreshCrls } from "./crls/refresh.js";
import type { Db } from "./db/db.js";
import type { Logger } from "./log.js";

/**
 * The server's trust, built from config.trust: anchors (PEM bundle), optional intermediates, revocation mode
 * (default "require"), and the CRLs of the `crls` table. At start the configured CRL files and folder are read into
 * that table (no fetching: the "crl-refresh" job does that, and keeps all of them current). Registered
 * certificates are validated with it on registration and again whenever they are used (login, profiles, receipts).
 */
export async function loadTrust(
  dataDir: string,
  config: ServerConfig,
  deps: { db: Db; log: Logger; now: () => Date },
): Promise<{ policy: LiveTrust; intermediates: CertInfo[] }> {
  const t = config.trust;
  const anchors = parseCertificates(await readFile(dataPath(dataDir, t.anchors), "utf8"));
  const intermediates = t.intermediates
    ? parseCertificates(await readFile(dataPath(dataDir, t.intermediates), "utf8"))
    : [];
  await refreshCrls(deps.db, {
    dataDir,
    trust: t,
    issuers: [...anchors, ...intermediates],
    fetch: false,
    now: deps.now,
    log: deps.log,
  });
  const policy = new LiveTrust(deps.db, {
    anchors,
    intermediates,
    revocation: t.revocation,
    now: deps.now,
    log: deps.log,
  });
  await policy.reload();
  return { policy, intermediates };
}

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CertInfo, parseCertificates, type TrustPolicy } from "@sealpost/pki";
import type Database from "better-sqlite3";
import { dataPath, type ServerConfig } from "./config.js";
import { CrlRefresher } from "./crls/index.js";
import { createTrustPolicy } from "./crypto.js";
import type { Logger } from "./log.js";
import { listCertificates, listStaff } from "./registry/service.js";

/**
 * The server's trust policy, built from config.trust: anchors (PEM bundle), optional intermediates, revocation mode
 * (default "require"), and the CRLs that the CRL refresher keeps current (config.trust.crls files, the crlDir folder
 * and the distribution points; see crls/). The policy is rebuilt whenever the CRL set changes; callers keep the one
 * returned, which always asks the latest. Registered certificates are validated with it on registration and again
 * whenever they are used (login, profiles, receipts).
 */
export async function loadTrust(
  dataDir: string,
  config: ServerConfig,
  db: Database.Database,
  log: Logger,
  now?: () => Date,
): Promise<{ policy: TrustPolicy; intermediates: CertInfo[]; crls: CrlRefresher }> {
  const t = config.trust;
  const anchors = parseCertificates(await readFile(dataPath(dataDir, t.anchors), "utf8"));
  const intermediates = t.intermediates
    ? parseCertificates(await readFile(dataPath(dataDir, t.intermediates), "utf8"))
    : [];
  const r = config.crlRefresh ?? {};
  const rewrites = Object.entries(r.rewrite ?? {});
  const crls = new CrlRefresher({
    db,
    log,
    sources: {
      files: (t.crls ?? []).map((f) => dataPath(dataDir, f)),
      dir: t.crlDir ? dataPath(dataDir, t.crlDir) : undefined,
    },
    cas: [...anchors, ...intermediates],
    registered: () =>
      listCertificates(db)
        .filter((c) => c.status === "active")
        .map((c) => ({ sha256: c.sha256, der: () => parseCertificates(c.pem)[0]!.der })),
    opsEmails: () =>
      listStaff(db)
        .filter((s) => s.role === "ops" && s.active !== false)
        .map((s) => s.email),
    cacheDir: join(dataDir, "trust", "crl-cache"),
    fetch: r.fetch ?? true,
    ...(r.warnBeforeHours !== undefined ? { warnBeforeMs: r.warnBeforeHours * 3600_000 } : {}),
    ...(rewrites.length
      ? {
          rewriteUrl: (u: string) =>
            rewrites.reduce((acc, [from, to]) => (acc.startsWith(from) ? to + acc.slice(from.length) : acc), u),
        }
      : {}),
    ...(now ? { now } : {}),
  });
  const build = (list: Uint8Array[]) =>
    createTrustPolicy({ anchors, intermediates, crls: list, revocation: t.revocation, ...(now ? { now } : {}) });
  let current = build([]);
  crls.onChange = (list) => {
    current = build(list);
  };
  await crls.loadLocal();
  const policy: TrustPolicy = { validate: (cert, options) => current.validate(cert, options) };
  return { policy, intermediates, crls };
}

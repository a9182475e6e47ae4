import { constants } from "node:fs";
import { access, chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { closeContext, createContext } from "../app.js";
import { certificateIdentity, parseCertificates } from "@sealpost/pki";
import { type AuditKey, createAuditKey } from "../audit/audit-key.js";
import { checkPublicUrl, configPath, DEFAULT_CONFIG, isLoopback, parseListen, type ServerConfig } from "../config.js";
import { databasePath, openDb } from "../db/open.js";
import { checkPostgresUrl, type PostgresConfig, redactUrl } from "../db/postgres.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../log.js";
import { createRegistryService } from "../registry/service.js";

export interface InitOptions {
  data: string;
  /** PEM bundle of trust anchors (copied to <data>/trust/anchors.pem). */
  trust: string;
  /** The first admin's signing certificate (PEM, optionally followed by its chain). */
  adminCert: string;
  /** Default: the admin certificate's CN (the name registration binds the certificate to). */
  adminName?: string;
  /** Default: the admin certificate's e-mail address (subjectAltName), else "admin@sealpost.invalid". */
  adminEmail?: string;
  /** The admin's agency code (created). Default "SEALPOST". */
  adminAgency?: string;
  intermediates?: string;
  /** CRL files (copied to <data>/trust/crls/). */
  crl?: string[];
  /** A CRL folder, used in place (absolute path kept in config.json). */
  crlDir?: string;
  /** Default "require". */
  revocation?: "require" | "prefer" | "off";
  listen?: string;
  /**
   * The URL staff use to reach the server (see ServerConfig.publicUrl; checked by checkPublicUrl). Required unless
   * `listen` is a loopback address.
   */
  publicUrl?: string;
  /**
   * The database: a postgres:// URL without a password (USER@HOST:PORT/DB; the password comes from `dbPasswordFile`,
   * PGPASSWORD or a passfile), or absent for SQLite in the data folder (default).
   */
  db?: string;
  /** A file whose first line is the PostgreSQL password (kept as its path in config.json, read at start). */
  dbPasswordFile?: string;
  log: Logger;
}

/**
 * Creates a data folder: config.json with defaults, trust material, the database (SQLite in the folder, or the
 * PostgreSQL database named by `db`; migrated), the file store (files/, tmp/), and the first admin (agency, staff
 * member, signing certificate validated against the trust anchors), and the audit key (audit-key.pem, mode 0600) that
 * signs the audit log's tree heads from the first entry on. Refuses a folder that already holds a database,
 * and a PostgreSQL database that already holds a registry; on failure removes what it created in the folder.
 */
export async function initDataDir(
  o: InitOptions,
): Promise<{ adminId: string; adminEmail: string; config: ServerConfig; auditKey: AuditKey }> {
  const data = resolve(o.data);
  const publicUrl = o.publicUrl !== undefined ? checkPublicUrl(o.publicUrl) : undefined;
  if (!publicUrl && !isLoopback(parseListen(o.listen ?? DEFAULT_CONFIG.listen).host)) {
    throw new ServerError("BAD_REQUEST", `A server listening on ${o.listen} needs --public-url.`, {
      hint: "Logins are bound to the URL staff use: add --public-url https://sealpost.example.gov.tw",
    });
  }
  const database: PostgresConfig | undefined = o.db
    ? {
        url: checkPostgresUrl(o.db).toString(),
        ...(o.dbPasswordFile ? { passwordFile: resolve(o.dbPasswordFile) } : {}),
      }
    : undefined;
  // The input files first: a missing one refuses the init before anything is created.
  const inputs: [string, string | undefined][] = [
    ["--trust", o.trust],
    ["--admin-cert", o.adminCert],
    ["--intermediates", o.intermediates],
    ...(o.crl ?? []).map((f): [string, string] => ["--crl", f]),
  ];
  for (const [option, file] of inputs) {
    if (file === undefined) continue;
    await access(file, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
      throw new ServerError(
        "BAD_REQUEST",
        `Cannot read ${option} ${file} (${e.code === "ENOENT" ? "no such file" : e.code}).`,
        {
          hint: `Check the path given to ${option}: nothing was created.`,
        },
      );
    });
  }
  const existed = await stat(data).then(
    () => true,
    () => false,
  );
  await mkdir(data, { recursive: true, mode: 0o700 });
  await chmod(data, 0o700); // also when the folder existed: it holds the sealed files (and the SQLite database)
  const before = await readdir(data);
  if (before.includes("sealpost.db")) {
    throw new ServerError("CONFLICT", `${databasePath(data)} already exists.`, { hint: "Use another --data folder." });
  }
  try {
    return await initFresh(data, { ...o, ...(publicUrl ? { publicUrl } : {}) }, database);
  } catch (e) {
    // Leave the folder as it was: remove only what this init created (the folder itself when it made it).
    if (!existed) {
      await rm(data, { recursive: true, force: true });
    } else {
      const created = (await readdir(data)).filter((f) => !before.includes(f));
      for (const f of created) await rm(join(data, f), { recursive: true, force: true });
    }
    throw e;
  }
}

async function initFresh(
  data: string,
  o: InitOptions,
  database: PostgresConfig | undefined,
): Promise<{ adminId: string; adminEmail: string; config: ServerConfig; auditKey: AuditKey }> {
  await mkdir(join(data, "trust", "crls"), { recursive: true });
  await copyFile(o.trust, join(data, "trust", "anchors.pem"));
  const trust: ServerConfig["trust"] = { anchors: "trust/anchors.pem", revocation: o.revocation ?? "require" };
  if (o.intermediates) {
    await copyFile(o.intermediates, join(data, "trust", "intermediates.pem"));
    trust.intermediates = "trust/intermediates.pem";
  }
  if (o.crl?.length) {
    trust.crls = [];
    for (const [i, f] of o.crl.entries()) {
      const name = `crl-${i + 1}.crl`;
      await copyFile(f, join(data, "trust", "crls", name));
      trust.crls.push(`trust/crls/${name}`);
    }
  }
  if (o.crlDir) trust.crlDir = resolve(o.crlDir);
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    trust,
    ...(database ? { database } : {}),
  };
  await writeFile(configPath(data), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const auditKey = createAuditKey(data);
  const db = await openDb(data, database, { mustExist: false });
  try {
    if (database && (await db.read((uow) => uow.registry.agencies())).length > 0) {
      throw new ServerError("CONFLICT", `The database ${redactUrl(database.url)} already holds a sealpost registry.`, {
        hint: "Give an empty database, or start a server on the data folder that uses it.",
      });
    }
  } finally {
    await db.close();
  }
  // init prints its own summary: routine notices of the context (such as the CRLs it read) stay out of it.
  const ctx = await createContext(data, { log: { ...o.log, info() {} }, sweep: false });
  try {
    const pem = await readFile(o.adminCert, "utf8");
    const agency = o.adminAgency ?? "SEALPOST";
    const stated = adminIdentityOf(pem);
    const email = o.adminEmail ?? stated.email ?? "admin@sealpost.invalid";
    const registry = createRegistryService({ db: ctx.db, clock: ctx.clock, validator: ctx.validator });
    await registry.addAgency(null, { code: agency, name: agency, email, allowCidrs: [] });
    const admin = await registry.addStaff(null, {
      agency,
      name: o.adminName ?? stated.name ?? "administrator",
      email,
      role: "admin",
    });
    await registry.addCertificate(null, { staff: admin.id, pem, purpose: "sign" });
    return { adminId: admin.id, adminEmail: admin.email, config, auditKey };
  } finally {
    await closeContext(ctx);
  }
}

/** The name (CN) and first e-mail address the admin certificate states, when it can be read (else both undefined). */
function adminIdentityOf(pem: string): { name?: string; email?: string } {
  try {
    const [cert] = parseCertificates(pem);
    if (!cert) return {};
    const id = certificateIdentity(cert);
    return { ...(id.commonName ? { name: id.commonName } : {}), ...(id.emails[0] ? { email: id.emails[0] } : {}) };
  } catch {
    return {};
  }
}

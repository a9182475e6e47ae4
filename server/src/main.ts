import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { Command, Option } from "commander";
import { SealpostError } from "@sealpost/protocol";
import { type AuditKey, auditPublicKeyPem, createAuditKey, loadAuditKey } from "./audit/audit-key.js";
import { writeAuditExport } from "./audit/export.js";
import { verifyAudit } from "./audit/verify.js";
import { initDataDir } from "./commands/init.js";
import { loadConfig } from "./config.js";
import { serverStatus } from "./commands/status.js";
import { openDb } from "./db/open.js";
import { stderrLogger } from "./log.js";
import { startServer } from "./server.js";

/**
 * `sealpost-server`: init, start, audit verify|export|key, status. Exit codes: 0 ok, 1 internal error, 2 usage or
 * configuration error, 6 audit log broken (chain, tree or signed heads).
 */
const program = new Command("sealpost-server")
  .description("sealpost relay server: registry, transfer cases, sealed files, audit trail")
  .showHelpAfterError();

const collect = (v: string, acc: string[]) => [...acc, v];

program
  .command("init")
  .description("create a data folder: database, file store, config.json and the first admin")
  .requiredOption("--data <dir>", "data folder (created)")
  .requiredOption("--trust <root.pem>", "trust anchors (PEM bundle)")
  .requiredOption("--admin-cert <cert.pem>", "the first admin's signing certificate (PEM)")
  .option("--admin-name <name>", "the admin's name", "administrator")
  .option("--admin-email <email>", "the admin's e-mail address", "admin@sealpost.invalid")
  .option("--admin-agency <code>", "the admin's agency code (created)", "SEALPOST")
  .option("--intermediates <pem>", "intermediate CA certificates (PEM bundle)")
  .option("--crl <file>", "a CRL file (repeatable)", collect, [])
  .option("--crl-dir <dir>", "a folder of CRL files")
  .addOption(
    new Option("--revocation <mode>", "revocation checking").choices(["require", "prefer", "off"]).default("require"),
  )
  .option("--listen <host:port>", "default listen address", "127.0.0.1:8443")
  .option(
    "--db <url>",
    "PostgreSQL instead of SQLite in the data folder: postgres://USER@HOST:PORT/DB, no password (PGPASSWORD, ~/.pgpass or --db-password-file)",
  )
  .option("--db-password-file <file>", "a file holding the PostgreSQL password (its path goes into config.json)")
  .addHelpText(
    "after",
    "\nExample:\n  sealpost-server init --data /srv/sealpost --trust grca.pem --intermediates gca.pem \\\n    --crl gca.crl --admin-cert admin-sign.pem --admin-email admin@example.gov.tw",
  )
  .action(async (o) => {
    const r = await initDataDir({ ...o, log: stderrLogger() });
    process.stdout.write(`created ${o.data} (admin ${o.adminEmail}, id ${r.adminId})\n`);
    printAuditKey(r.auditKey, "created the audit key");
  });

/** Prints the audit key's fingerprint and public key: what agencies pin (sealpost login --audit-key). */
function printAuditKey(key: AuditKey, what: string): void {
  process.stdout.write(
    `${what}: it signs the audit log's tree heads; give agencies its fingerprint to pin (sealpost login --audit-key):\n` +
      `audit key SHA-256 fingerprint: ${key.fingerprint}\n${auditPublicKeyPem(key)}`,
  );
}

program
  .command("start")
  .description("serve the API")
  .requiredOption("--data <dir>", "data folder")
  .option("--listen <host:port>", "address to listen on (default from config.json, 127.0.0.1:8443)")
  .option("--tls-cert <cert.pem>", "TLS certificate (without TLS only loopback addresses are allowed)")
  .option("--tls-key <key.pem>", "TLS private key")
  .action(async (o) => {
    if (!!o.tlsCert !== !!o.tlsKey) throw new SealpostError("USAGE", "Give both --tls-cert and --tls-key, or neither.");
    const log = stderrLogger();
    const s = await startServer(o.data, {
      log,
      ...(o.listen ? { listen: o.listen } : {}),
      ...(o.tlsCert ? { tls: { cert: o.tlsCert, key: o.tlsKey } } : {}),
    });
    process.stdout.write(`sealpost-server listening on ${s.url}${s.tls ? "" : " (no TLS: loopback only)"}\n`);
    const stop = async () => {
      await s.close();
      process.exit(0);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });

const audit = program.command("audit").description("check or export the audit trail; the audit key");
audit
  .command("verify")
  .description("recompute the hash chain, the Merkle tree and every signed tree head; names the first problem (exit 6)")
  .requiredOption("--data <dir>", "data folder")
  .action(async (o) => {
    const db = await openDb(o.data, loadConfig(o.data).database, { migrate: false });
    const r = await verifyAudit(db).finally(() => db.close());
    if (r.ok) {
      process.stdout.write(`audit chain intact: ${r.entries} entries, last hash ${r.lastHash}\n`);
      process.stdout.write(`audit tree intact: root ${r.rootHash} over ${r.entries} entries\n`);
      process.stdout.write(
        r.signaturesChecked
          ? `signed tree heads intact: ${r.heads} heads, each signed by the audit key ${db.auditKey!.fingerprint}\n`
          : `signed tree heads: ${r.heads} heads match the tree; no audit key in ${o.data}, signatures not checked\n`,
      );
      return;
    }
    const b = r.broken!;
    const where =
      b.reason === "head" || b.reason === "signature"
        ? `tree head broken at size ${b.seq}`
        : b.reason === "node" || b.reason === "size"
          ? `tree broken at entry ${b.seq}`
          : `chain broken at entry ${b.seq}`;
    process.stderr.write(`sealpost-server: error: audit ${where}: ${b.message}\n`);
    process.stderr.write(
      `sealpost-server: hint: ${r.entries} entries before it verify; restore the database from a backup and investigate.\n`,
    );
    process.exitCode = 6;
  });
audit
  .command("export")
  .description("write the audit trail as JSON lines, with the latest signed tree head and proofs to check it offline")
  .requiredOption("--data <dir>", "data folder")
  .option("-o, --output <file>", "output file, created (default: standard output)")
  .addHelpText(
    "after",
    "\nThe format (sealpost-audit-export/1) is described in server/README.md; check a file with:\n  sealpost audit verify-export FILE --audit-key FINGERPRINT",
  )
  .action(async (o) => {
    const db = await openDb(o.data, loadConfig(o.data).database, { migrate: false });
    const out = o.output ? createWriteStream(o.output, { flags: "wx", mode: 0o600 }) : process.stdout;
    if (o.output) await once(out, "open");
    try {
      await writeAuditExport(db, db.auditKey, out);
    } finally {
      await db.close();
    }
    if (o.output) {
      out.end();
      await once(out, "finish");
    }
  });
const auditKey = audit.command("key").description("the audit key that signs the audit log's tree heads");
auditKey
  .command("create")
  .description("create the audit key of a data folder that has none, and sign the current log")
  .requiredOption("--data <dir>", "data folder")
  .action(async (o) => {
    const config = loadConfig(o.data);
    const key = createAuditKey(o.data);
    const db = await openDb(o.data, config.database);
    try {
      const head = await db.tx((uow) => uow.audit.catchUp(new Date()));
      printAuditKey(key, "created the audit key");
      if (head) process.stdout.write(`signed the log's tree head: ${head.treeSize} entries, root ${head.rootHash}\n`);
    } finally {
      await db.close();
    }
  });
auditKey
  .command("show")
  .description("print the audit key's SHA-256 fingerprint and public key")
  .requiredOption("--data <dir>", "data folder")
  .action(async (o) => {
    const key = loadAuditKey(o.data);
    if (!key) {
      throw new SealpostError("NOT_FOUND", `${o.data} has no audit key.`, {
        hint: "Create one with: sealpost-server audit key create --data DIR",
      });
    }
    printAuditKey(key, "the audit key");
  });

program
  .command("status")
  .description("case counts by state, the mail outbox (failures shown), retention")
  .requiredOption("--data <dir>", "data folder")
  .option("--json", "JSON output")
  .action(async (o) => {
    const config = loadConfig(o.data);
    const db = await openDb(o.data, config.database);
    const s = await serverStatus(db, { retentionDays: config.retentionDays }).finally(() => db.close());
    if (o.json) {
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      return;
    }
    process.stdout.write("cases:\n");
    for (const [k, v] of Object.entries(s.cases)) process.stdout.write(`  ${k.padEnd(16)} ${v}\n`);
    process.stdout.write("mail outbox:\n");
    for (const [k, v] of Object.entries(s.mail.counts)) process.stdout.write(`  ${k.padEnd(16)} ${v}\n`);
    if (s.mail.oldestQueued) {
      process.stdout.write(`  oldest queued    #${s.mail.oldestQueued.id} since ${s.mail.oldestQueued.createdAt}\n`);
    }
    const r = s.retention;
    process.stdout.write(
      `retention (${r.retentionDays} days): ${r.purgedFiles} files purged (${r.purgedBytes} bytes)${r.lastPurgedAt ? `, last ${r.lastPurgedAt}` : ""}; ${r.dueFiles} due now\n`,
    );
    for (const e of s.mail.lastErrors)
      process.stdout.write(`  error #${e.id} (${e.kind}, ${e.attempts} attempts): ${e.lastError}\n`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof SealpostError) {
    process.stderr.write(`sealpost-server: error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`sealpost-server: hint: ${e.hint}\n`);
    process.exitCode = e.code === "INTERNAL" ? 1 : 2;
  } else {
    process.stderr.write(`sealpost-server: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
});

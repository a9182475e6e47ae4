import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { Command, CommanderError, Option } from "commander";
import { SealpostError } from "@sealpost/protocol";
import { describeFailure } from "./cli-errors.js";
import { registerLocalAdminCommands } from "./commands/admin-cli.js";
import { type AuditKey, auditPublicKeyPem, createAuditKey, loadAuditKey } from "./audit/audit-key.js";
import { writeAuditExport } from "./audit/export.js";
import { verifyAudit } from "./audit/verify.js";
import { initDataDir } from "./commands/init.js";
import { configPath, loadConfig, setPublicUrl } from "./config.js";
import { serverStatus } from "./commands/status.js";
import { openDb } from "./db/open.js";
import { stderrLogger } from "./log.js";
import { startServer } from "./server.js";

/**
 * `sealpost-server`: init, config, start, audit verify|export|key, status, admin (local recovery). Exit codes: 0 ok, 1
 * internal error, 2 usage or configuration error, 6 audit log broken (chain, tree or signed heads). Every failure is
 * `sealpost-server: error: ...` with a `sealpost-server: hint: ...` where one helps, never a stack trace.
 */
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

const program = new Command("sealpost-server")
  .description("sealpost relay server: registry, transfer cases, sealed files, audit trail")
  .version(VERSION, "--version", "print the version and exit")
  .showHelpAfterError()
  // Usage errors (unknown option or command, missing argument) exit 2 as documented; set before the subcommands,
  // which inherit it.
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`sealpost-server: ${text}`) });

const collect = (v: string, acc: string[]) => [...acc, v];

program
  .command("init")
  .description("create a data folder: database, file store, config.json and the first admin")
  .requiredOption("--data <dir>", "data folder (created)")
  .requiredOption("--trust <root.pem>", "trust anchors (PEM bundle)")
  .requiredOption("--admin-cert <cert.pem>", "the first admin's signing certificate (PEM)")
  .option("--admin-name <name>", "the admin's name (default: the certificate's CN)")
  .option("--admin-email <email>", "the admin's e-mail address (default: the certificate's e-mail address)")
  .option("--admin-agency <code>", "the admin's agency code (created)", "SEALPOST")
  .option("--intermediates <pem>", "intermediate CA certificates (PEM bundle)")
  .option("--crl <file>", "a CRL file (repeatable)", collect, [])
  .option("--crl-dir <dir>", "a folder of CRL files")
  .addOption(
    new Option("--revocation <mode>", "revocation checking").choices(["require", "prefer", "off"]).default("require"),
  )
  .option("--listen <host:port>", "default listen address", "127.0.0.1:8443")
  .option(
    "--public-url <url>",
    "the URL staff use (logins are bound to it); required unless --listen is a loopback address",
  )
  .option(
    "--db <url>",
    "PostgreSQL instead of SQLite in the data folder: postgres://USER@HOST:PORT/DB, no password (PGPASSWORD, ~/.pgpass or --db-password-file)",
  )
  .option("--db-password-file <file>", "a file holding the PostgreSQL password (its path goes into config.json)")
  .addHelpText(
    "after",
    "\nExample:\n  sealpost-server init --data /srv/sealpost --trust grca.pem --intermediates gca.pem \\\n    --crl gca.crl --admin-cert admin-sign.pem --listen 0.0.0.0:8443 --public-url https://sealpost.example.gov.tw",
  )
  .action(async (o) => {
    const r = await initDataDir({ ...o, log: stderrLogger() });
    process.stdout.write(
      `created ${o.data} (admin ${r.adminEmail}, id ${r.adminId}${r.config.publicUrl ? `, public URL ${r.config.publicUrl}` : ""})\n`,
    );
    printAuditKey(r.auditKey, "created the audit key");
  });

program
  .command("config")
  .description("change settings of an existing data folder (restart the server afterwards)")
  .requiredOption("--data <dir>", "data folder")
  .requiredOption("--public-url <url>", "the URL staff use to reach the server; logins are bound to it")
  .addHelpText(
    "after",
    "\nExample:\n  sealpost-server config --data /srv/sealpost --public-url https://sealpost.example.gov.tw",
  )
  .action(async (o) => {
    const origin = await setPublicUrl(o.data, o.publicUrl);
    process.stdout.write(`public URL set to ${origin} in ${configPath(o.data)}; restart the server to apply it\n`);
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
    if (o.output && existsSync(o.output)) {
      throw new SealpostError("USAGE", `${o.output} already exists.`, {
        hint: "Give a new file name with -o: an export never overwrites a file.",
      });
    }
    const db = await openDb(o.data, loadConfig(o.data).database, { migrate: false });
    const out = o.output ? createWriteStream(o.output, { flags: "wx", mode: 0o600 }) : process.stdout;
    // A file created in the meantime (flags wx) fails the stream: reported as the action's failure.
    const failed = new Promise<never>((_, reject) => out.once("error", reject));
    failed.catch(() => {});
    try {
      if (o.output) await Promise.race([once(out, "open"), failed]);
      await Promise.race([writeAuditExport(db, db.auditKey, out), failed]);
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
  .description("case counts by state, the mail outbox (failures shown), retention, CRLs (stale ones warned)")
  .requiredOption("--data <dir>", "data folder")
  .option("--json", "JSON output")
  .action(async (o) => {
    const config = loadConfig(o.data);
    const db = await openDb(o.data, config.database);
    const warnBeforeMs = config.trust.crlRefresh?.warnBeforeMs;
    const s = await serverStatus(db, {
      retentionDays: config.retentionDays,
      ...(warnBeforeMs !== undefined ? { crlWarnBeforeMs: warnBeforeMs } : {}),
    }).finally(() => db.close());
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
    process.stdout.write("CRLs:\n");
    for (const c of s.crls) {
      const flag =
        c.state === "current" ? "" : `  ${c.state === "stale-soon" ? "WARNING: stale soon" : `WARNING: ${c.state}`}`;
      process.stdout.write(`  ${c.issuer ?? "(none)"}  next update ${c.nextUpdate ?? "-"}  [${c.source}]${flag}\n`);
      if (c.lastError) process.stdout.write(`    last error (${c.checkedAt}): ${c.lastError}\n`);
    }
  });

registerLocalAdminCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Commander printed the message (and the help); --help and --version end with 0.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  const f = describeFailure(e);
  process.stderr.write(`sealpost-server: error: ${f.message}\n`);
  if (f.hint) process.stderr.write(`sealpost-server: hint: ${f.hint}\n`);
  process.exitCode = f.exitCode;
});

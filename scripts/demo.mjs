#!/usr/bin/env node
// The whole sealpost round trip on one machine, through the real programs (run `npm run demo`, which builds first).
//
// Starts a relay server on a loopback port with a fresh data folder and a local SMTP server (smtp-server, printing
// each notice it receives), registers the fixture agencies, staff and certificates (fixtures/pki/manifest.json,
// fictional test data) with `sealpost admin ...`, makes one roster officer per agency who signs the agency's
// recipient roster, then: the social-affairs sender sends a 10,000-row batch (its CLI verifies and pins the tax
// bureau's roster and seals only to certificates on it); the
// tax-bureau receiver lists the inbox, receives and opens it, adds a note and replies with a result; the sender
// fetches the result and checks the receipts. It ends with `sealpost-server audit verify`. Exits non-zero if any
// step fails. Everything lives in a temporary folder that is removed at the end (SEALPOST_DEMO_KEEP=1 keeps it).
// DEMO_TOKEN=1 puts the sender's and the receiver's keys on SoftHSM2 tokens (scripts/make-token.sh), as IC cards:
// their CLI uses --key pkcs11:token=<id> and every signature and decryption of theirs runs on the token.
//
// `npm run demo -- --db postgres` runs the same round trip on PostgreSQL: a throwaway cluster started for the demo
// (initdb in a temp folder, loopback port; scripts/lib/pg-cluster.mjs), `sealpost-server init --db postgres://...`
// with the password in a file (never in argv), stopped at the end.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { SMTPServer } from "smtp-server";
import { createDatabase, startPgCluster } from "./lib/pg-cluster.mjs";
import { fixtureInitArgs } from "./lib/server-init-args.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PKI = join(ROOT, "fixtures/pki");
const manifest = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
const pki = (p) => join(PKI, p);
const SERVER_BIN = join(ROOT, "server/bin/sealpost-server.js");
const CLI_BIN = join(ROOT, "cli/bin/sealpost.js");
const work = mkdtempSync(join(tmpdir(), "sealpost-demo-"));
const TOKEN_PEOPLE = process.env.DEMO_TOKEN === "1" ? ["soc-chen", "tax-wang"] : [];
const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
let softhsmConf;
const children = new Set();
const dbArg = process.argv.indexOf("--db");
const DB = dbArg >= 0 ? process.argv[dbArg + 1] : "sqlite";
if (DB !== "sqlite" && DB !== "postgres") {
  process.stderr.write(`demo: --db must be sqlite or postgres, not ${DB}\n`);
  process.exit(2);
}
let pgCluster;
let smtpServer;
let step = 0;

const say = (text) => process.stdout.write(`${text}\n`);
const title = (text) => say(`\n\x1b[1m== ${++step}. ${text}\x1b[0m`);

/** Runs a program to completion; prints its output indented; throws on a non-zero exit. */
async function run(bin, args, { env = {}, show = true, label, expectExit = 0 } = {}) {
  if (show) say(`$ ${label ?? (bin === CLI_BIN ? "sealpost" : "sealpost-server")} ${args.join(" ")}`);
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const [code] = await once(child, "close");
  const indent = (t) => t.trimEnd().replace(/^/gm, "    ");
  if (show && out.trim()) say(indent(out));
  if (code !== expectExit) {
    if (err.trim()) say(indent(err));
    throw new Error(`${args[0]} exited with ${code}`);
  }
  if (show && err.trim()) say(indent(err));
  if (expectExit !== 0) say(`    (exit ${code}, as expected)`);
  return out;
}

/** A person's CLI environment: own config folder (config.json with server, trust and keystore) and PIN variable. */
function personEnv(id, server) {
  const p = manifest.people[id];
  const dir = join(work, "home", id);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server,
      trust: [pki(manifest.root.cert)],
      intermediates: [pki(manifest.intermediate.cert)],
      crls: [pki(manifest.intermediate.crl), pki(manifest.root.crl)],
      revocation: "require",
      ...(TOKEN_PEOPLE.includes(id)
        ? { keystore: `pkcs11:token=${id}`, pkcs11Module: SOFTHSM_MODULE }
        : { keystore: pki(p.p12) }),
    }),
  );
  return {
    SEALPOST_CONFIG: config,
    SEALPOST_PIN: p.pin,
    ...(softhsmConf ? { SOFTHSM2_CONF: softhsmConf } : {}),
  };
}

async function main() {
  if (TOKEN_PEOPLE.length > 0) {
    title(`IC cards: SoftHSM2 tokens for ${TOKEN_PEOPLE.join(" and ")} (scripts/make-token.sh)`);
    const { makeTokens } = await import("./lib/make-token.mjs");
    const made = makeTokens(join(work, "cards"), TOKEN_PEOPLE);
    softhsmConf = made.conf;
    for (const t of made.tokens)
      say(`    token ${t.label}: signing and encryption keys (not extractable) + certificates`);
    await run(CLI_BIN, ["token", "list", "--module", SOFTHSM_MODULE], {
      env: { SOFTHSM2_CONF: softhsmConf },
      label: "sealpost",
    });
  }

  title("local SMTP server (loopback) that prints every notice it receives");
  const mails = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, cb) {
      let raw = "";
      stream.setEncoding("utf8");
      stream.on("data", (d) => {
        raw += d;
      });
      stream.on("end", () => {
        mails.push(raw);
        const subject = decodeHeader(/^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? "");
        say(`    \x1b[36m[mail to ${session.envelope.rcptTo.map((r) => r.address).join(", ")}] ${subject}\x1b[0m`);
        cb();
      });
    },
  });
  smtpServer = smtp;
  await new Promise((r) => smtp.listen(0, "127.0.0.1", r));
  const smtpPort = smtp.server.address().port;
  say(`    listening on 127.0.0.1:${smtpPort}`);

  title("sealpost-server init: database, file store, trust anchors and the first admin");
  const data = join(work, "data");
  const admin = manifest.people["ops-wu"];
  let dbArgs = [];
  if (DB === "postgres") {
    title("PostgreSQL: a throwaway cluster (initdb in a temp folder, loopback port) and a database");
    pgCluster = await startPgCluster();
    const database = await createDatabase(pgCluster.cluster, "sealpost_demo");
    say(`    ${database.url} (password in a file, mode 0600)`);
    dbArgs = ["--db", database.url, "--db-password-file", database.passwordFile];
  }
  await run(SERVER_BIN, [...fixtureInitArgs(data, "ops-wu"), ...dbArgs]);
  const cfgPath = join(data, "config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  cfg.smtp = {
    host: "127.0.0.1",
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    from: "sealpost 通知 <sealpost@relay.example>",
  };
  cfg.mail = { pollMs: 200 };
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  say("    (config.json: SMTP set to the local test server)");

  title("sealpost-server start (loopback, no TLS)");
  const server = spawn(process.execPath, [SERVER_BIN, "start", "--data", data, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(server);
  let serverLog = "";
  server.stderr.on("data", (d) => {
    serverLog += d;
  });
  const url = await new Promise((resolveUrl, reject) => {
    const rl = createInterface({ input: server.stdout });
    rl.on("line", (line) => {
      say(`    ${line}`);
      const m = /listening on (\S+)/.exec(line);
      if (m) resolveUrl(m[1]);
    });
    server.once("exit", (code) => reject(new Error(`server exited (${code}): ${serverLog}`)));
  });

  const envOf = (id) => personEnv(id, url);
  const sealpost = (id, args, opts = {}) => run(CLI_BIN, args, { env: envOf(id), label: `sealpost  [${id}]`, ...opts });

  title("admin (ops-wu) logs in with the signing key of their IC card export and registers the registry");
  await sealpost("ops-wu", ["login"]);
  // Each agency's subject rules: every certificate registered for its staff must carry O=<agency> and OU=<code>.
  for (const [code, a] of Object.entries(manifest.agencies)) {
    const rules = ["--subject", `O=${a.name}`, "--subject", `OU=${code}`];
    if (code === admin.agency) {
      await sealpost("ops-wu", ["admin", "agency", "edit", code, "--name", a.name, "--email", a.email, ...rules]);
      continue;
    }
    await sealpost("ops-wu", ["admin", "agency", "add", code, "--name", a.name, "--email", a.email, ...rules]);
  }
  for (const [id, p] of Object.entries(manifest.people)) {
    if (id !== "ops-wu") {
      await sealpost(
        "ops-wu",
        ["admin", "user", "add", "--agency", p.agency, "--name", p.name, "--email", p.email, "--role", p.role],
        {
          show: id === "soc-chen",
        },
      );
    }
    for (const purpose of ["sign", "encrypt"]) {
      if (id === "ops-wu" && purpose === "sign") continue;
      await sealpost(
        "ops-wu",
        ["admin", "cert", "add", pki(p[purpose].cert), "--user", p.email, "--purpose", purpose],
        {
          show: id === "soc-chen",
        },
      );
    }
  }
  say("    (… the other staff members and certificates likewise)");
  title("the relay refuses another person's certificate registered under a staff member");
  await sealpost(
    "ops-wu",
    ["admin", "cert", "add", pki(manifest.people["tax-lee"].encrypt.cert), "--user", manifest.people["tax-wang"].email],
    { expectExit: 8 },
  );
  await sealpost("ops-wu", [
    "admin",
    "category",
    "add",
    "WELFARE-TAX",
    "--name",
    "社會救助資格財稅資料查調",
    "--purpose",
    "社會救助法第5條之1: 審核低收入戶資格所需之財稅資料 (fictional test category)",
  ]);
  await sealpost("ops-wu", ["admin", "user", "list"]);

  title("roster officers: the admin makes one staff member of each agency a roster officer (fingerprint printed)");
  const officers = { "KHH-TAX": "tax-lee", "KHH-SOC": "soc-lin" };
  for (const [code, id] of Object.entries(officers)) {
    await sealpost("ops-wu", ["admin", "agency", "officer", "add", code, "--user", manifest.people[id].email]);
  }

  title("each officer reviews the recipients the registry proposes and signs the agency's roster (CMS SignedData)");
  for (const [code, id] of Object.entries(officers)) {
    await sealpost(id, ["login"]);
    const signed = await sealpost(id, ["roster", "sign", "--agency", code, "--yes"]);
    if (!/signed roster version 1 of /.test(signed)) throw new Error(`${id} did not sign ${code}'s roster`);
  }

  title("a 10,000-row batch of fictional welfare applicants (scripts/make-batch.mjs)");
  const batch = join(work, "applicants-2026-11.csv");
  await run(join(ROOT, "scripts/make-batch.mjs"), ["--rows", "10000", "-o", batch], {
    label: "node scripts/make-batch.mjs",
  });
  say(`    ${readFileSync(batch).length} bytes, 10,000 rows`);

  title("sender (soc-chen, 高雄市政府社會局) logs in and sends the batch to the tax bureau");
  await sealpost("soc-chen", ["login"]);
  const sent = await sealpost("soc-chen", [
    "send",
    batch,
    "--to-agency",
    "KHH-TAX",
    "--category",
    "WELFARE-TAX",
    "--records",
    "10000",
    "--upload-no",
    "1151130001",
    "--remark",
    "11月份低收入戶申請人名冊",
  ]);
  const caseId = /registered case (\S+)/.exec(sent)?.[1];
  if (!caseId || !/sent case /.test(sent)) throw new Error("send did not report a sent case");
  if (!/roster of KHH-TAX verified: version 1/.test(sent)) throw new Error("send did not verify KHH-TAX's roster");
  await waitForMail(mails, 1);

  title("receiver (tax-wang, 高雄市稅捐稽徵處) lists the inbox, receives and opens the payload (receipt signed)");
  await sealpost("tax-wang", ["login"]);
  await sealpost("tax-wang", ["cases", "--inbox"]);
  const inbox = join(work, "tax-wang-inbox");
  await sealpost("tax-wang", ["receive", caseId, "-o", inbox]);
  const opened = readFileSync(join(inbox, "applicants-2026-11.csv"));
  if (!opened.equals(readFileSync(batch))) throw new Error("the opened payload differs from the batch sent");
  say("    the opened file is byte-identical to the batch sent");

  title("receiver adds a processing note and replies with the result file");
  await sealpost("tax-wang", ["note", caseId, "已完成財稅資料比對 (matching done)"]);
  const result = join(work, "match-result-2026-11.csv");
  writeFileSync(
    result,
    `seq,national_id_sha256,has_income_record\n${opened
      .toString("utf8")
      .split("\n")
      .slice(1, 10001)
      .map((l, i) => `${i + 1},${l.length % 7},${i % 3 === 0 ? "Y" : "N"}`)
      .join("\n")}\n`,
  );
  const replied = await sealpost("tax-wang", ["reply", caseId, result, "--note", "結果檔已上傳"]);
  if (!/roster of KHH-SOC verified: version 1/.test(replied)) throw new Error("reply did not verify KHH-SOC's roster");
  await waitForMail(mails, 2);

  title("sender fetches and opens the result, and checks the receipts");
  await sealpost("soc-chen", ["case", "show", caseId]);
  const outbox = join(work, "soc-chen-results");
  await sealpost("soc-chen", ["result", caseId, "-o", outbox]);
  if (!readFileSync(join(outbox, "match-result-2026-11.csv")).equals(readFileSync(result))) {
    throw new Error("the opened result differs from the result sent");
  }
  await sealpost("soc-chen", ["receipt", caseId]);
  await sealpost("soc-chen", ["cases", "--outbox"]);
  title("the sender's CLI checks the relay's signed tree head and the inclusion of its case's audit entries");
  await sealpost("soc-chen", ["audit", "check"]);

  title("server status and shutdown");
  await run(SERVER_BIN, ["status", "--data", data]);
  server.kill("SIGTERM");
  await once(server, "exit");
  children.delete(server);

  title("audit trail: verify the hash chain, the Merkle tree and the signed tree heads; export and check it offline");
  await run(SERVER_BIN, ["audit", "verify", "--data", data]);
  const exported = join(work, "audit.jsonl");
  await run(SERVER_BIN, ["audit", "export", "--data", data, "-o", exported]);
  await sealpost("soc-chen", ["audit", "verify-export", exported]);
  const lines = readFileSync(exported, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((l) => l.entry)
    .map((l) => l.entry);
  for (const e of lines.filter((e) => e.caseId === caseId)) {
    say(
      `    #${String(e.seq).padStart(3)} ${e.time} ${e.action.padEnd(22)} ${e.agency ?? ""} ${e.fileSha256.join(",").slice(0, 16)}`,
    );
  }
  say(
    `\n\x1b[32mdemo finished: case ${caseId} went registered → sent → received → processed → result_received; ${mails.length} notices mailed; audit chain intact.\x1b[0m`,
  );
}

async function waitForMail(mails, n) {
  for (let i = 0; i < 150 && mails.length < n; i++) await new Promise((r) => setTimeout(r, 100));
  if (mails.length < n) throw new Error(`expected ${n} notices by mail, got ${mails.length}`);
}

/** Decodes RFC 2047 encoded words (=?UTF-8?B?...?= and =?UTF-8?Q?...?=) in a header. */
function decodeHeader(h) {
  return h
    .replace(/\r?\n[ \t]/g, " ")
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) =>
      enc.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(
            text.replace(/_/g, " ").replace(/=([0-9a-f]{2})/gi, (_m, x) => String.fromCharCode(Number.parseInt(x, 16))),
            "latin1",
          ).toString("utf8"),
    );
}

try {
  await main();
} catch (e) {
  process.stderr.write(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of children) c.kill("SIGKILL");
  smtpServer?.close();
  await pgCluster?.stop();
  if (process.env.SEALPOST_DEMO_KEEP === "1") say(`(kept ${work})`);
  else rmSync(work, { recursive: true, force: true });
}

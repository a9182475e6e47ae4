import { mkdir, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { openFile, sealFile } from "@sealpost/cms";
import { type KeyEntry, pickKey } from "@sealpost/pki";
import {
  CASE_STATES,
  EXIT_CODES,
  type CaseDto,
  type CaseListQuery,
  type CaseState,
  type CreateCaseRequest,
  type LoginResponse,
  type ReceiptDto,
  type TransferProfile,
} from "@sealpost/protocol";
import type { Command } from "commander";
import { addKeyOptions, addTrustOptions, collect, positiveInt } from "../commands/common.js";
import { CliError, usageError } from "../errors.js";
import { guardTempFiles, privateTempDir } from "../files.js";
import { memoryKeeper } from "../memory.js";
import { formatBytes, oneLine } from "../output.js";
import { createProgress } from "../progress.js";
import { buildTrust, checkOwnSigningCert } from "../trust.js";
import { makeReceipt, RemoteClient } from "./client.js";
import { manifestMismatch, signerMismatch } from "./binding.js";
import { RemoteError } from "./errors.js";
import { placeOpened } from "./place.js";
import { checkRecipientTrust, type RecipientView, recipientLine, recipientViews } from "./recipient-names.js";
import { pinAuditKey } from "./tree-heads.js";
import { RosterGuard } from "./roster-check.js";
import { checkReceipt } from "./receipts.js";
import {
  type KeyOpts,
  keystoreOf,
  type RemoteRuntime,
  runtimeOf,
  type TrustOpts,
  trustOf,
  validateRecipients,
} from "./runtime.js";
import { clearSession, loadSession, type Session, saveSession, serverKey, sessionPath } from "./session.js";

/** `sealpost login|logout|send|cases|case|receive|note|reply|result|cancel|receipt`: the transfer round trip. */

const action =
  <A extends unknown[]>(fn: (rt: RemoteRuntime, ...args: A) => Promise<void>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(await runtimeOf(cmd), ...(args.slice(0, -1) as A));
  };

/** The server's page size of `sealpost cases` without --limit, and the largest --limit it accepts. */
const DEFAULT_CASES_PAGE = 100;
const MAX_CASES_PAGE = 500;

const stateLabel = (s: string) => `${s} ${CASE_STATES[s as keyof typeof CASE_STATES] ?? ""}`.trim();

function printCase(rt: RemoteRuntime, c: CaseDto): void {
  rt.out.fields([
    ["case", c.id],
    ["state", stateLabel(c.state)],
    ["category", c.category],
    ["from", c.senderAgency],
    ["to", c.receivingAgency],
    ["records", c.recordCount],
    ["upload no.", c.uploadNo],
    ["remarks", c.remarks || undefined],
    ["payload", c.payload ? `${formatBytes(c.payload.size)} sha256 ${c.payload.sha256}` : undefined],
    ["result", c.result ? `${formatBytes(c.result.size)} sha256 ${c.result.sha256}` : undefined],
    ["updated", c.updatedAt],
  ]);
  for (const n of c.notes ?? []) rt.out.line(`  note ${n.createdAt} ${oneLine(n.staffName)}: ${oneLine(n.text)}`);
}

/**
 * The payload recipients of a case named from their certificates, each checked with the user's trust anchors when
 * any are configured; null (with a warning) when the server does not give the case's profile.
 */
async function caseRecipients(
  rt: RemoteRuntime,
  client: RemoteClient,
  id: string,
  o: TrustOpts,
): Promise<RecipientView[] | null> {
  let profile: TransferProfile;
  try {
    profile = await client.call("getProfile", { params: { id } });
  } catch (e) {
    if (!(e instanceof RemoteError) || e.status === undefined || e.status >= 500) throw e;
    rt.out.warn(`the recipients of case ${id} are not available: ${e.message}`);
    return null;
  }
  const views = recipientViews(profile.recipients);
  const trust = await buildTrust(o, rt.config);
  if (trust.policy)
    await checkRecipientTrust(views, profile.recipients, { policy: trust.policy, intermediates: trust.intermediates });
  else rt.out.warn("no trust anchor configured: the recipients' certificates were not checked (names only)");
  return views;
}

/** Seals `file` to the profile's recipients (validated with the user's trust first) and uploads it as `kind`. */
async function sealAndUpload(
  rt: RemoteRuntime,
  client: RemoteClient,
  profile: TransferProfile,
  file: string,
  kind: "payload" | "result",
  o: KeyOpts & TrustOpts,
  manifestExtra: { fileName: string; byteSize: number; recordCount?: number },
  rosters: { guard: RosterGuard; agencies: string[] },
): Promise<{ case: CaseDto; recipients: RecipientView[] }> {
  const trust = await trustOf(rt, o);
  // Only certificates the agencies' roster officers signed (exit 8 otherwise: nothing sealed or uploaded).
  const used = await rosters.guard.check(profile.recipients, rosters.agencies);
  for (const l of rosters.guard.describe(used)) rt.out.line(l);
  const recipients = await validateRecipients(profile.recipients, trust);
  // Names come from the certificates just validated; a registry name that differs is a warning before sealing.
  const views = recipientViews(profile.recipients);
  for (const v of views) if (v.warning) rt.out.warn(v.warning);
  const signer = pickKey(await keystoreOf(rt, o), "sign");
  for (const w of (await checkOwnSigningCert(signer, trust)).warnings) rt.out.warn(`your signing certificate: ${w}`);
  const tmp = await privateTempDir((w) => rt.out.warn(w));
  try {
    const sealed = join(tmp.dir, "sealed.p7m");
    const sealing = createProgress({
      label: "sealing",
      total: manifestExtra.byteSize,
      quiet: rt.out.quiet || rt.out.json,
    });
    const c = profile.case;
    const sealMemory = memoryKeeper();
    await sealFile(file, sealed, {
      recipients,
      signer,
      manifest: {
        caseId: c.id,
        senderAgency: c.senderAgency,
        receivingAgency: c.receivingAgency,
        recordCount: c.recordCount,
        uploadNo: c.uploadNo,
        ...manifestExtra,
      },
      onProgress: (n) => {
        sealing.update(n);
        sealMemory.at(n);
      },
    });
    sealing.done();
    const size = (await stat(sealed)).size;
    const uploading = createProgress({ label: "uploading", total: size, quiet: rt.out.quiet || rt.out.json });
    const uploadMemory = memoryKeeper();
    const res = await client.upload(kind, c.id, sealed, (n) => {
      uploading.update(n);
      uploadMemory.at(n);
    });
    uploading.done();
    for (const v of views) rt.out.line(`  sealed to ${recipientLine(v)}`);
    return { case: res, recipients: views };
  } finally {
    await tmp.cleanup();
  }
}

/**
 * The caller's receipt for this case file: the one they signed before (same kind, same file, same signing
 * certificate, or the one the server keeps for them), else a new one signed and posted. Posting it the first time
 * is what makes the case received (result received).
 */
async function signReceiptOnce(
  client: RemoteClient,
  signer: KeyEntry,
  id: string,
  kind: "payload" | "result",
  sha256: string,
): Promise<{ receipt: ReceiptDto; created: boolean }> {
  const mine = (list: ReceiptDto[]) =>
    list.find((r) => r.statement.kind === kind && r.statement.sha256 === sha256 && r.certSha256 === signer.cert.sha256);
  const before = mine(await client.call("listReceipts", { params: { id } }));
  if (before) return { receipt: before, created: false };
  try {
    return {
      receipt: await client.call("addReceipt", { params: { id }, body: await makeReceipt(signer, id, kind, sha256) }),
      created: true,
    };
  } catch (e) {
    const kept = e instanceof RemoteError && e.code === "CONFLICT" ? e.details?.receiptId : undefined;
    if (kept === undefined) throw e;
    const found = (await client.call("listReceipts", { params: { id } })).find((r) => r.id === kept);
    if (!found) throw e;
    return { receipt: found, created: false };
  }
}

/** Downloads a case file into `dir`, opens it (decrypt + verify signer), posts the signed receipt. */
async function fetchAndOpen(
  rt: RemoteRuntime,
  id: string,
  kind: "payload" | "result",
  o: KeyOpts & TrustOpts & { output?: string },
): Promise<void> {
  const client = await rt.client();
  const trust = await trustOf(rt, o);
  const ks = await keystoreOf(rt, o);
  const signer = pickKey(ks, "sign");
  const dir = resolve(o.output ?? ".");
  const theCase = await client.call("getCase", { params: { id } });
  if (theCase.id !== id) {
    // A relay that answers with another case's details is not believed for anything else either.
    throw new RemoteError(
      "FILE_NOT_FOR_CASE",
      `The server answered case ${id} with the details of case ${theCase.id}: refusing to receive it.`,
      {
        exitCode: EXIT_CODES.INTEGRITY,
        hint: "Report it to the sealpost operators; nothing was downloaded or written and no receipt was sent.",
        details: { field: "caseId", inFile: theCase.id, inCase: id },
      },
    );
  }
  await mkdir(dir, { recursive: true });
  // The sealed download is kept beside the output while it arrives, so an interrupted download resumes (Range)
  // when the command is run again; it is removed once opened, or when it proves damaged.
  const sealed = join(dir, `.${id}.${kind}.p7m.part`);
  {
    const bar = createProgress({ label: "downloading", quiet: rt.out.quiet || rt.out.json });
    let dl: Awaited<ReturnType<RemoteClient["download"]>>;
    try {
      dl = await client.download(kind, id, sealed, (n) => bar.update(n), { resume: true });
    } catch (e) {
      bar.done();
      if (e instanceof RemoteError || e instanceof CliError) throw e;
      throw new RemoteError("SERVER_UNREACHABLE", `The download of case ${id} was interrupted.`, {
        cause: e,
        hint: `Run the same command again: it continues where it stopped (${sealed}).`,
      });
    }
    bar.done();
    if (dl.resumedFrom > 0) rt.out.line(`resumed the download at byte ${dl.resumedFrom}`);
    // Opened under a private name first; it gets its final name (or is recognised as received before) below.
    const provisional = join(dir, `.${id}.${kind}.opened`);
    await guardTempFiles(provisional, (w) => rt.out.warn(w));
    let opened: Awaited<ReturnType<typeof openFile>>;
    const openMemory = memoryKeeper();
    try {
      opened = await openFile(sealed, provisional, {
        keys: ks.entries,
        trust: trust.policy,
        intermediates: trust.intermediates,
        force: true,
        onProgress: (n) => openMemory.at(n),
        // The manifest names the case's agencies (checked against the case below); a result is addressed back to
        // the sending side, whom its recipient hashes name. Without hashes (older files) the case decides.
        ...(kind === "result" ? { openerAgencies: [theCase.receivingAgency] } : {}),
      });
    } catch (e) {
      // A file that does not open is not resumed next time: it is fetched whole again.
      await rm(sealed, { force: true });
      throw e;
    }
    await rm(sealed, { force: true });
    // Every file proves its sender: the CMS signer must be one of the registered signing certificates of the staff
    // member the server saw upload it (any other trusted signer, e.g. someone else's card, is refused).
    const notSender = signerMismatch(opened.signer?.cert.sha256, kind, theCase);
    if (notSender) {
      await rm(provisional, { force: true });
      throw new RemoteError("SIGNER_NOT_SENDER", `Case ${id}: ${notSender}; refusing the ${kind}.`, {
        exitCode: EXIT_CODES.BAD_SIGNATURE,
        hint: "Report it to the sending agency and the sealpost operators; the opened content was removed and no receipt was sent.",
        details: { signerSha256: opened.signer?.cert.sha256 ?? null, uploadedBy: theCase[kind]?.uploadedBy ?? null },
      });
    }
    // The signed manifest must name this case (id, agencies, upload number): a relay that swapped two cases'
    // files, both sealed to this user, is caught here. The case id is the one the user asked for, never the
    // server's answer (a relay that lies in the case details would otherwise vouch for its own swap).
    const wrong = manifestMismatch(opened.manifest, { ...theCase, id });
    if (wrong) {
      await rm(provisional, { force: true });
      throw new RemoteError(
        "FILE_NOT_FOR_CASE",
        `The file's signed manifest names ${wrong.field} ${wrong.inFile}, but case ${id} has ${wrong.inCase}: refusing it.`,
        {
          exitCode: EXIT_CODES.INTEGRITY,
          hint: "Report it to the sending agency and the sealpost operators; the opened content was removed.",
          details: { ...wrong },
        },
      );
    }
    const placed = await placeOpened({
      dir,
      opened: provisional,
      fileName: opened.manifest?.fileName,
      fallback: `${id}.${kind}`,
      contentSha256: opened.contentSha256,
      warn: (t) => rt.out.warn(t),
    });
    const final = placed.path;
    if (placed.alreadyThere) rt.out.line(`${final} is already here with this content: nothing new written`);
    const receipt = await signReceiptOnce(client, signer, id, kind, dl.sha256);
    rt.out.fields([
      ["case", id],
      ["file", final],
      ["size", formatBytes(opened.contentBytes)],
      ["signed by", opened.signer ? `${opened.signer.commonName} (${opened.signer.subject})` : "unsigned"],
      ["signing time", opened.signingTime?.toISOString()],
      ["records", opened.manifest?.recordCount],
      ["sealed sha256", dl.sha256],
      ["receipt", `#${receipt.receipt.id} ${receipt.created ? "signed and sent" : "sent before"}`],
    ]);
    rt.out.result(kind === "payload" ? "receive" : "result", {
      caseId: id,
      file: final,
      contentBytes: opened.contentBytes,
      contentSha256: opened.contentSha256,
      sealedSha256: dl.sha256,
      signer: opened.signer ? { commonName: opened.signer.commonName, subject: opened.signer.subject } : null,
      manifest: opened.manifest ?? null,
      receiptId: receipt.receipt.id,
      alreadyReceived: placed.alreadyThere,
      warnings: opened.warnings,
    });
  }
}

export function registerCaseCommands(program: Command): void {
  addKeyOptions(
    program
      .command("login")
      .description("log in to the relay server with your signing key (the server sends a challenge you sign)")
      .option("--server <url>", 'server URL (default: config "server")')
      .option("--approve <code>", "also log in the web console page that shows CODE (as you, with this login)")
      .option(
        "--audit-key <fingerprint-or-file>",
        "pin the relay's audit key: its SHA-256 fingerprint or a file with its public key (default: pinned on first use)",
      ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost login --server https://sealpost.example.gov.tw --key me.p12\n  sealpost login --server https://sealpost.example.gov.tw --key me.p12 --approve K7QX-M2PA\n  sealpost login --server https://sealpost.example.gov.tw --key me.p12 --audit-key SHA256_FINGERPRINT",
    )
    .action(
      action(async (rt, o: KeyOpts & { server?: string; approve?: string; auditKey?: string }) => {
        const server = o.server ?? rt.config.server;
        if (!server) throw usageError("No server given.", 'Pass --server URL or set "server" in the config file.');
        const key = pickKey(await keystoreOf(rt, o), "sign");
        const client = new RemoteClient(server, undefined, { ca: rt.ca });
        if (o.server && rt.config.server && serverKey(rt.config.server) !== client.base) {
          rt.out.warn(
            `the config file ${rt.configPath} names the server ${serverKey(rt.config.server)}: the other commands use that one, not ${client.base}, until you change "server" there or pass another --config`,
          );
        }
        if (o.auditKey !== undefined) {
          const fp = await pinAuditKey(client.base, o.auditKey, rt.env, client.fetch);
          rt.out.line(`pinned the audit key of ${client.base}: SHA-256 ${fp}`);
        }
        const res: LoginResponse = await client.login(key);
        const where = await saveSession(
          {
            server: client.base,
            token: res.token,
            expiresAt: res.expiresAt,
            staff: res.staff,
            certSha256: key.cert.sha256,
          },
          rt.env,
          rt.configPath,
        );
        rt.out.line(
          `logged in to ${client.base} as ${res.staff.name} <${res.staff.email}> (${res.staff.agency}, ${res.staff.role}) until ${res.expiresAt}`,
        );
        if (o.approve !== undefined) {
          await client.call("consoleApprove", { body: { code: o.approve } });
          rt.out.line(`approved console login code ${o.approve}: that page is now logged in as ${res.staff.name}`);
        }
        rt.out.result("login", {
          server: client.base,
          staff: res.staff,
          expiresAt: res.expiresAt,
          session: where,
          ...(o.approve !== undefined ? { approved: o.approve } : {}),
        });
      }),
    );

  program
    .command("logout")
    .description(
      "end your login to the config's server (the server deletes the token; an expired login is just forgotten)",
    )
    .addHelpText("after", "\nExamples:\n  sealpost logout\n  sealpost logout --config ~/.config/sealpost/alice.json")
    .action(
      action(async (rt) => {
        let s: Session;
        try {
          s = await loadSession(rt.env, rt.configPath, rt.config.server, { allowExpired: true });
        } catch (e) {
          if (!(e instanceof RemoteError && e.code === "NOT_LOGGED_IN")) throw e;
          rt.out.line("not logged in: nothing to do");
          rt.out.result("logout", { wasLoggedIn: false });
          return;
        }
        const expired = !(Date.parse(s.expiresAt) > Date.now());
        try {
          // An expired token is already void on the server.
          if (!expired) await new RemoteClient(s.server, s.token, { ca: rt.ca }).call("logout");
        } catch (e) {
          // A token the server no longer knows is as good as logged out.
          if (!(e instanceof RemoteError && e.status === 401)) throw e;
        } finally {
          await clearSession(rt.env, rt.configPath, s.server);
        }
        rt.out.line(
          `logged out of ${s.server}${expired ? " (the login had expired)" : ""}; ${sessionPath(rt.env, rt.configPath)} updated`,
        );
        rt.out.result("logout", { wasLoggedIn: true, server: s.server, expired });
      }),
    );

  addTrustOptions(
    addKeyOptions(
      program
        .command("send")
        .description("register a case, seal FILE to the case's recipients and upload it")
        .argument("<file>", "the batch file to send")
        .option("--to-agency <code>", "receiving agency code (required for a new case)")
        .option("--category <code>", "transfer category code (required for a new case)")
        .option("--records <n>", "number of records in the file (required for a new case)", positiveInt)
        .option("--upload-no <no>", "upload number (required for a new case)")
        .option("--case <id>", "upload to this already registered case instead (e.g. after a failed upload)")
        .option("--remark <text>", "remarks for the receiving agency")
        .option(
          "--to-user <email>",
          "receiving staff member (repeatable; default: all of the agency's staff)",
          collect,
        ),
    ),
  )
    .addHelpText(
      "after",
      "\nExample:\n  sealpost send batch.csv --to-agency KHH-TAX --category WELFARE-TAX --records 10000 --upload-no 1150001 --key me.p12",
    )
    .action(
      action(
        async (
          rt,
          file: string,
          o: KeyOpts &
            TrustOpts & {
              toAgency?: string;
              category?: string;
              records?: number;
              uploadNo?: string;
              remark?: string;
              toUser?: string[];
              case?: string;
            },
        ) => {
          const size = (await stat(file).catch(() => undefined))?.size;
          if (size === undefined) throw usageError(`Cannot read ${file}.`);
          // Check keys and trust before anything is registered on the server.
          const trust = await trustOf(rt, o);
          const client = await rt.client();
          const guard = new RosterGuard(rt, client, trust);
          let profile: TransferProfile;
          if (o.case) {
            profile = await client.call("getProfile", { params: { id: o.case } });
          } else {
            if (!o.toAgency || !o.category || o.records === undefined || !o.uploadNo) {
              throw usageError("A new case needs --to-agency, --category, --records and --upload-no.");
            }
            const req: CreateCaseRequest = {
              category: o.category,
              receivingAgency: o.toAgency,
              recordCount: o.records,
              uploadNo: o.uploadNo,
              ...(o.remark ? { remarks: o.remark } : {}),
              ...(o.toUser?.length ? { receivers: o.toUser } : {}),
            };
            // The recipients the relay would choose are checked against the agencies' signed rosters before the
            // case is registered; the registered profile is checked again below.
            const me = (await loadSession(rt.env, rt.configPath, rt.config.server)).staff.agency;
            const checked = await guard.check(await client.call("previewCaseRecipients", { body: req }), [
              o.toAgency,
              me,
            ]);
            for (const l of guard.describe(checked)) rt.out.line(l);
            profile = await client.call("createCase", { body: req });
            rt.out.line(`registered case ${profile.case.id}`);
          }
          let c: CaseDto;
          let recipients: RecipientView[];
          try {
            ({ case: c, recipients } = await sealAndUpload(
              rt,
              client,
              profile,
              file,
              "payload",
              o,
              { fileName: basename(file), byteSize: size },
              { guard, agencies: [profile.case.receivingAgency, profile.case.senderAgency] },
            ));
          } catch (e) {
            rt.out.warn(
              `case ${profile.case.id} stays registered: retry with \`sealpost send FILE --case ${profile.case.id} ...\` or withdraw it with \`sealpost cancel ${profile.case.id}\``,
            );
            throw e;
          }
          rt.out.line(
            `sent case ${c.id}: ${stateLabel(c.state)}, ${formatBytes(c.payload?.size ?? 0)} sealed, sha256 ${c.payload?.sha256}`,
          );
          rt.out.result("send", { case: c, recipients, rosters: guard.summary() });
        },
      ),
    );

  program
    .command("cases")
    .description("list your agency's cases")
    .option("--inbox", "only cases your agency receives")
    .option("--outbox", "only cases your agency sends")
    .option("--status <state>", `only this state (${Object.keys(CASE_STATES).join(", ")})`)
    .option("--limit <n>", `cases per page, 1 to ${MAX_CASES_PAGE} (default ${DEFAULT_CASES_PAGE})`)
    .option("--all", "every case: follow the server's pages until the last")
    .addHelpText("after", "\nExamples:\n  sealpost cases --inbox --status sent\n  sealpost cases --outbox --all --json")
    .action(
      action(async (rt, o: { inbox?: boolean; outbox?: boolean; status?: string; limit?: string; all?: boolean }) => {
        if (o.inbox && o.outbox) throw usageError("Give --inbox or --outbox, not both.");
        if (o.status && !(o.status in CASE_STATES)) {
          throw usageError(`Unknown state "${o.status}".`, `States: ${Object.keys(CASE_STATES).join(", ")}.`);
        }
        if (o.limit !== undefined && !(/^\d{1,4}$/.test(o.limit) && +o.limit >= 1 && +o.limit <= MAX_CASES_PAGE)) {
          throw usageError(`--limit must be a whole number from 1 to ${MAX_CASES_PAGE}.`);
        }
        const query: CaseListQuery = {
          ...(o.inbox ? { box: "inbox" as const } : o.outbox ? { box: "outbox" as const } : {}),
          ...(o.status ? { state: o.status as CaseState } : {}),
          ...(o.limit !== undefined ? { limit: Number(o.limit) } : {}),
        };
        const client = await rt.client();
        const list: CaseDto[] = [];
        let nextCursor: string | null = null;
        do {
          const page = await client.listCasesPage({ ...query, ...(nextCursor ? { before: nextCursor } : {}) });
          list.push(...page.cases);
          nextCursor = page.nextCursor;
        } while (o.all && nextCursor);
        for (const c of list) {
          rt.out.line(
            oneLine(
              `${c.id}  ${stateLabel(c.state).padEnd(22)} ${c.senderAgency} -> ${c.receivingAgency}  ${c.category}  ${c.recordCount} records  no. ${c.uploadNo}  ${c.updatedAt}`,
            ),
          );
        }
        if (list.length === 0) rt.out.line("no cases");
        if (nextCursor) {
          rt.out.stderr.write(
            `sealpost: showing the ${list.length} most recently changed cases; more exist (--all lists every case).\n`,
          );
        }
        rt.out.result("cases", { cases: list, nextCursor });
      }),
    );

  addTrustOptions(
    program
      .command("case")
      .description("case details")
      .command("show")
      .argument("<id>", "case id")
      .description(
        "show one case with its notes and its recipients, named from their certificates (checked with your trust anchors when configured)",
      ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost case show 20261206-AB12CD\n  sealpost case show 20261206-AB12CD --json",
    )
    .action(
      action(async (rt, id: string, o: TrustOpts) => {
        const client = await rt.client();
        const c = await client.call("getCase", { params: { id } });
        printCase(rt, c);
        const recipients = await caseRecipients(rt, client, id, o);
        for (const v of recipients ?? []) rt.out.line(`  recipient ${recipientLine(v)}`);
        for (const v of recipients ?? []) if (v.warning) rt.out.warn(v.warning);
        rt.out.result("case show", { case: c, recipients });
      }),
    );

  addTrustOptions(
    addKeyOptions(
      program
        .command("receive")
        .description("download a case's payload, open it (decrypt, verify the sender) and send a signed receipt")
        .argument("<id>", "case id")
        .option("-o, --output <dir>", "folder for the opened file (default: current folder)"),
    ),
  )
    .addHelpText("after", "\nExamples:\n  sealpost receive 20261206-AB12CD -o inbox/ --key me.p12")
    .action(
      action(async (rt, id: string, o: KeyOpts & TrustOpts & { output?: string }) =>
        fetchAndOpen(rt, id, "payload", o),
      ),
    );

  program
    .command("note")
    .description("add a processing note (處理情形) to a received case")
    .argument("<id>", "case id")
    .argument("<text>", "the note")
    .addHelpText("after", "\nExamples:\n  sealpost note 20261206-AB12CD '3 records need a manual check'")
    .action(
      action(async (rt, id: string, text: string) => {
        const c = await (await rt.client()).call("addNote", { params: { id }, body: { text } });
        rt.out.line(`note added to case ${id}`);
        rt.out.result("note", { case: c });
      }),
    );

  addTrustOptions(
    addKeyOptions(
      program
        .command("reply")
        .description("seal a result file to the sending agency's staff and upload it (the case becomes processed)")
        .argument("<id>", "case id")
        .argument("<result-file>", "the result file")
        .option("--records <n>", "number of records in the result file (default: the case's)", positiveInt)
        .option("--note <text>", "add this processing note first"),
    ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost reply 20261206-AB12CD result.csv --records 95 --key me.p12\n  sealpost reply 20261206-AB12CD result.csv --note '5 records not found' --key me.p12",
    )
    .action(
      action(async (rt, id: string, file: string, o: KeyOpts & TrustOpts & { note?: string; records?: number }) => {
        const size = (await stat(file).catch(() => undefined))?.size;
        if (size === undefined) throw usageError(`Cannot read ${file}.`);
        const client = await rt.client();
        if (o.note) await client.call("addNote", { params: { id }, body: { text: o.note } });
        const profile = await client.call("getResultProfile", { params: { id } });
        const guard = new RosterGuard(rt, client, await trustOf(rt, o));
        const { case: c, recipients } = await sealAndUpload(
          rt,
          client,
          profile,
          file,
          "result",
          o,
          {
            fileName: basename(file),
            byteSize: size,
            ...(o.records !== undefined ? { recordCount: o.records } : {}),
          },
          { guard, agencies: [profile.case.senderAgency] },
        );
        rt.out.line(`result uploaded for case ${id}: ${stateLabel(c.state)}, sha256 ${c.result?.sha256}`);
        rt.out.result("reply", { case: c, recipients, rosters: guard.summary() });
      }),
    );

  addTrustOptions(
    addKeyOptions(
      program
        .command("result")
        .description("download a case's result, open it and send a signed receipt")
        .argument("<id>", "case id")
        .option("-o, --output <dir>", "folder for the opened file (default: current folder)"),
    ),
  )
    .addHelpText("after", "\nExamples:\n  sealpost result 20261206-AB12CD -o results/ --key me.p12")
    .action(
      action(async (rt, id: string, o: KeyOpts & TrustOpts & { output?: string }) => fetchAndOpen(rt, id, "result", o)),
    );

  program
    .command("cancel")
    .description("withdraw a case your agency sent (before the receiver has it)")
    .argument("<id>", "case id")
    .option("--reason <text>", "why")
    .addHelpText("after", "\nExamples:\n  sealpost cancel 20261206-AB12CD --reason 'wrong batch attached'")
    .action(
      action(async (rt, id: string, o: { reason?: string }) => {
        const c = await (await rt.client()).call("cancelCase", { params: { id }, body: { reason: o.reason ?? "" } });
        rt.out.line(`case ${id}: ${stateLabel(c.state)}`);
        rt.out.result("cancel", { case: c });
      }),
    );

  addTrustOptions(
    program
      .command("receipt")
      .description(
        "show a case's signed receipts, each checked here: certificate trusted by your roots, case, file hash, signature",
      )
      .argument("<id>", "case id"),
  )
    .addHelpText("after", "\nExamples:\n  sealpost receipt 20261206-AB12CD\n  sealpost receipt 20261206-AB12CD --json")
    .action(
      action(async (rt, id: string, o: TrustOpts) => {
        const trust = await trustOf(rt, o);
        const client = await rt.client();
        const c = await client.call("getCase", { params: { id } });
        const list = await client.call("listReceipts", { params: { id } });
        const names = new Map((await client.call("listAgencyNames", {})).map((a) => [a.code, a.name]));
        // The case id is the one asked for; a payload receipt must come from the receiving agency's staff, a result
        // receipt from the sending agency's.
        const expected = {
          caseId: id,
          sha256: { payload: c.payload?.sha256, result: c.result?.sha256 },
          signers: {
            payload: { code: c.receivingAgency, name: names.get(c.receivingAgency) },
            result: { code: c.senderAgency, name: names.get(c.senderAgency) },
          },
        };
        const checked = [];
        for (const r of list) checked.push(await checkReceipt(r, expected, trust));
        // The signed tree head each receipt embeds: signed by the pinned audit key and consistent with the kept head
        // (exit 6 otherwise), so the receipt's audit entry is part of the log every client sees.
        for (const r of list) if (r.treeHead) await client.treeHeads.verifyHead(r.treeHead);
        for (const r of checked) {
          rt.out.line(
            oneLine(
              `#${r.id} ${r.statement.kind} receipt by ${r.signer} at ${r.statement.time}: sha256 ${r.statement.sha256} (${r.signatureValid ? "signature valid" : `INVALID: ${r.problem}`})${r.treeHead ? `; audit entry ${r.auditSeq} in the signed tree head of ${r.treeHead.treeSize} entries` : ""}`,
            ),
          );
        }
        if (checked.length === 0) rt.out.line("no receipts yet");
        rt.out.result("receipt", { receipts: checked });
        if (checked.some((r) => !r.signatureValid)) process.exitCode = 7;
      }),
    );
}

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { EXIT_CODES } from "@sealpost/protocol";
import {
  auditChainHash,
  auditEntryBytes,
  checkAuditExport,
  describeTreeHead,
  leafHash,
  normalizeFingerprint,
  verifyInclusion,
} from "@sealpost/protocol/transparency";
import type { Command } from "commander";
import { positiveInt } from "../commands/common.js";
import { usageError } from "../errors.js";
import { ioError } from "../files.js";
import { RemoteError } from "./errors.js";
import { type RemoteRuntime, runtimeOf } from "./runtime.js";
import { loadSession } from "./session.js";
import { pinnedFingerprint, treeHeadsPath } from "./tree-heads.js";

/** `sealpost audit check` and `sealpost audit verify-export`: the relay's transparency log, checked by the user. */

const action =
  <A extends unknown[]>(fn: (rt: RemoteRuntime, ...args: A) => Promise<void>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(await runtimeOf(cmd), ...(args.slice(0, -1) as A));
  };

/** Cases `audit check` looks at without --limit. */
const DEFAULT_CHECK_CASES = 100;

const tampered = (message: string, details: Record<string, unknown>) =>
  new RemoteError("AUDIT_ENTRY_NOT_IN_LOG", message, {
    exitCode: EXIT_CODES.INTEGRITY,
    hint: "The relay's audit log does not hold what it showed you: keep the output and report it to your agency's security officer.",
    details,
  });

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command("audit")
    .description("check the relay's audit log: signed tree heads, consistency and inclusion proofs");

  audit
    .command("check")
    .description(
      "verify the relay's latest signed tree head against the one you kept (consistency proof) and the audit entries of your agency's cases (inclusion proofs)",
    )
    .option("--limit <n>", `cases to check, most recently changed first (default ${DEFAULT_CHECK_CASES})`, positiveInt)
    .addHelpText(
      "after",
      "\nExit 6 when the log shrank or forked, a head is signed by another key than the pinned one, or an entry is not in the log.\n\nExample:\n  sealpost audit check --limit 20",
    )
    .action(
      action(async (rt, o: { limit?: number }) => {
        const client = await rt.client();
        const head = await client.call("getTreeHead");
        await client.treeHeads.verifyHead(head);
        const verified = client.treeHeads.verified!;
        rt.out.line(`tree head verified: ${describeTreeHead(verified)}`);
        rt.out.line(`audit key: SHA-256 ${client.treeHeads.fingerprint} (pinned in ${treeHeadsPath(rt.env)})`);
        const session = await loadSession(rt.env, rt.configPath, rt.config.server);
        let cases = 0;
        let entries = 0;
        if (session.staff.role === "staff") {
          const limit = o.limit ?? DEFAULT_CHECK_CASES;
          for await (const c of client.api.allCases({ limit: Math.min(limit, 500) })) {
            if (cases >= limit) break;
            const trail = await client.call("getCaseAudit", {
              params: { id: c.id },
              query: { size: verified.treeSize },
            });
            if (trail.treeHead.rootHash !== verified.rootHash || trail.treeHead.treeSize !== verified.treeSize) {
              throw tampered(
                `The relay proved case ${c.id}'s entries against another tree head than the verified one.`,
                {
                  caseId: c.id,
                },
              );
            }
            const root = Buffer.from(verified.rootHash, "hex");
            for (const { entry, proof } of trail.entries) {
              const ok =
                auditChainHash(entry) === entry.hash &&
                verifyInclusion(
                  leafHash(auditEntryBytes(entry)),
                  entry.seq - 1,
                  verified.treeSize,
                  proof.map((h) => Buffer.from(h, "hex")),
                  root,
                );
              if (!ok) {
                throw tampered(`Audit entry ${entry.seq} of case ${c.id} (${entry.action}) is not in the signed log.`, {
                  caseId: c.id,
                  seq: entry.seq,
                });
              }
              entries++;
            }
            cases++;
          }
          rt.out.line(`inclusion proofs verified: ${entries} entries of ${cases} case${cases === 1 ? "" : "s"}`);
        } else {
          rt.out.line(`no cases checked: your role is ${session.staff.role}; inclusion proofs are checked for staff`);
        }
        rt.out.result("audit check", { treeHead: verified, fingerprint: client.treeHeads.fingerprint, cases, entries });
      }),
    );

  audit
    .command("verify-export")
    .description(
      "check an audit export (sealpost-server audit export) offline: signatures, chain, inclusion and consistency proofs",
    )
    .argument("<file>", "the export (JSON lines)")
    .option(
      "--audit-key <fingerprint>",
      "the relay's audit key fingerprint (default: the one pinned for the server you are logged in to)",
    )
    .addHelpText(
      "after",
      "\nExit 6 when anything does not verify.\n\nExample:\n  sealpost audit verify-export audit.jsonl --audit-key 3f9a...",
    )
    .action(
      action(async (rt, file: string, o: { auditKey?: string }) => {
        let pinned = o.auditKey;
        if (pinned !== undefined && !normalizeFingerprint(pinned)) {
          throw usageError(`--audit-key ${pinned} is not a SHA-256 fingerprint (64 hex digits).`);
        }
        if (pinned === undefined) {
          const session = await loadSession(rt.env, rt.configPath, rt.config.server).catch(() => undefined);
          if (session) pinned = await pinnedFingerprint(session.server, rt.env);
        }
        const input = createReadStream(file);
        const opened = new Promise<void>((resolve, reject) => {
          input.once("open", () => resolve());
          input.once("error", (e) => reject(ioError(`Cannot read ${file}`, e)));
        });
        await opened;
        const report = await checkAuditExport(createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }), {
          ...(pinned ? { pinned } : {}),
        });
        if (!pinned) {
          rt.out.warn(
            `the export's audit key ${report.fingerprint} was not compared with a pinned one: pass --audit-key FINGERPRINT`,
          );
        }
        rt.out.line(
          `audit export intact: ${report.entries} entries (the whole log), ${report.heads} earlier heads consistent`,
        );
        rt.out.line(`tree head: ${describeTreeHead(report.treeHead)}, signed by audit key ${report.fingerprint}`);
        rt.out.result("audit verify-export", { ...report, pinned: pinned ? normalizeFingerprint(pinned) : null });
      }),
    );
}

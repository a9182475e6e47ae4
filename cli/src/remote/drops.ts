import { readFile } from "node:fs/promises";
import type { DropRunDto, DropViewDto } from "@sealpost/protocol";
import { type Command, Option } from "commander";
import { collect } from "../commands/common.js";
import { usageError } from "../errors.js";
import { ioError } from "../files.js";
import { Output } from "../output.js";
import type { RemoteClient } from "./client.js";

/**
 * `sealpost drop add|list|show|run|history|disable|enable`: SFTP drops on the relay server (role ops). The server pulls
 * sealed files from an agency's SFTP outbox or pushes them into its inbox on a cron schedule; these commands
 * configure drops and show their runs. API: the drops endpoints of @sealpost/protocol (ENDPOINTS).
 */

/** Gives an authenticated client (from the saved `sealpost login` session). */
export type DropClientFactory = () => Promise<RemoteClient>;

type RunView = DropRunDto;
type DropView = DropViewDto;

function outputOf(cmd: Command): Output {
  const g = cmd.optsWithGlobals<{ json?: boolean; quiet?: boolean }>();
  return new Output({ json: !!g.json, quiet: !!g.quiet });
}

/** Commander passes (positionals..., options, command); the action gets (output, positionals..., options). */
const action =
  <A extends unknown[]>(fn: (out: Output, ...args: A) => Promise<void>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(outputOf(cmd), ...(args.slice(0, -1) as A));
  };

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw usageError(`${name} must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

function runLine(r: RunView): string {
  const took = r.endedAt ? `${((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s` : "…";
  return `#${r.id} ${r.startedAt} ${r.status.padEnd(8)} ${r.trigger.padEnd(8)} files ${r.files}, ${r.bytes} bytes, attempts ${r.attempts}, ${took}`;
}

function printDrop(out: Output, d: DropView): void {
  out.fields([
    ["drop", d.name],
    ["agency", d.agency],
    ["direction", d.direction === "pull" ? "pull (agency outbox → server)" : "push (server → agency inbox)"],
    ["endpoint", `sftp://${d.username}@${d.host}:${d.port}${d.remoteDir}`],
    ["host key", d.hostKeySha256],
    ["schedule", d.schedule],
    ["completion", d.direction === "pull" ? d.completion : undefined],
    ["enabled", d.enabled ? "yes" : "no"],
    ["health", d.health === "ok" ? "ok" : `FAILING (${d.consecutiveFailures} failed runs in a row)`],
    ["retries", `${d.maxAttempts} attempts, first wait ${d.retryBaseMs} ms`],
    ["notify", d.notifyEmails.join(", ") || undefined],
    ["last run", d.lastRun ? runLine(d.lastRun) : "never"],
  ]);
  for (const e of d.lastRun?.errors ?? [])
    out.line(`  ${e.file ?? `attempt ${e.attempt ?? "?"}`}: ${e.code} ${e.message}`);
}

/** Registers `sealpost drop ...` on the root program. `clientFactory` gives a logged-in client (server-core's). */
export function registerDropCommands(program: Command, clientFactory: DropClientFactory): void {
  const drop = program
    .command("drop")
    .description("SFTP drops: scheduled pulls from agency outboxes and pushes to their inboxes (ops only)");

  drop
    .command("add")
    .description("add a drop; the SSH private key is read from a file and stored on the server only")
    .argument("<name>", "drop name: lower-case letters, digits, '.', '_', '-'")
    .requiredOption("--agency <code>", "agency the drop belongs to, e.g. KHH-SOC")
    .addOption(
      new Option("--direction <dir>", "pull from the agency's outbox or push to its inbox")
        .choices(["pull", "push"])
        .makeOptionMandatory(),
    )
    .requiredOption("--host <host>", "SFTP server host name or address")
    .option("--port <port>", "SFTP port (default 22)", intArg("--port", 1, 65535))
    .requiredOption("--user <user>", "SFTP user name")
    .requiredOption("--key-file <path>", "the drop's SSH private key file (unencrypted; never give the key itself)")
    .requiredOption("--remote-dir <dir>", "absolute folder on the SFTP server (outbox for pull, inbox for push)")
    .requiredOption("--host-key <fingerprint>", "pinned host key fingerprint, SHA256:... as ssh-keygen -lf prints it")
    .requiredOption("--schedule <cron>", 'cron expression, e.g. "*/15 * * * *" (6 fields: seconds first)')
    .addOption(
      new Option("--completion <how>", "pull: when a file is complete (default sidecar)").choices([
        "sidecar",
        "marker",
      ]),
    )
    .option(
      "--max-attempts <n>",
      "attempts per run before it counts as failed (default 3)",
      intArg("--max-attempts", 1, 20),
    )
    .option(
      "--retry-base-ms <ms>",
      "first wait between attempts, doubled each time (default 5000)",
      intArg("--retry-base-ms", 0, 3_600_000),
    )
    .option("--notify <email>", "also mail this address when the drop starts failing (repeatable)", collect)
    .option("--disabled", "add it without scheduling it")
    .addHelpText(
      "after",
      `
Pull drops take NAME.p7m once its sidecar NAME.p7m.json exists (--completion sidecar: write the sidecar last) or
once NAME.p7m.done exists (--completion marker). Taken files move to processed/, refused ones to failed/ with
NAME.error.txt. Push drops write NAME.part and rename it to NAME when complete.

Example:
  ssh-keyscan -t ed25519 sftp.soc.khh.example | ssh-keygen -lf -     # then confirm it with the agency by phone
  sealpost drop add khh-soc-out --agency KHH-SOC --direction pull --host sftp.soc.khh.example \\
    --user sealpost --key-file /etc/sealpost/khh-soc-out.key --remote-dir /outbox \\
    --host-key SHA256:Ay7yUvI1Lky4QHv/NAELul2NYmFwrPt2uh6pupQGlQ4 --schedule "*/10 * * * *"`,
    )
    .action(
      action(
        async (
          out,
          name: string,
          o: {
            agency: string;
            direction: "pull" | "push";
            host: string;
            port?: number;
            user: string;
            keyFile: string;
            remoteDir: string;
            hostKey: string;
            schedule: string;
            completion?: "sidecar" | "marker";
            maxAttempts?: number;
            retryBaseMs?: number;
            notify?: string[];
            disabled?: boolean;
          },
        ) => {
          let privateKey: string;
          try {
            privateKey = await readFile(o.keyFile, "utf8");
          } catch (e) {
            throw ioError(`Cannot read the key file ${o.keyFile}`, e);
          }
          const d = await (await clientFactory()).call("addDrop", {
            body: {
              name,
              agency: o.agency,
              direction: o.direction,
              host: o.host,
              ...(o.port !== undefined ? { port: o.port } : {}),
              username: o.user,
              privateKey,
              remoteDir: o.remoteDir,
              hostKeySha256: o.hostKey,
              schedule: o.schedule,
              ...(o.completion ? { completion: o.completion } : {}),
              ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
              ...(o.retryBaseMs !== undefined ? { retryBaseMs: o.retryBaseMs } : {}),
              ...(o.notify ? { notifyEmails: o.notify } : {}),
              enabled: !o.disabled,
            },
          });
          out.line(
            `drop ${d.name} added (${d.direction} ${d.agency}, ${d.enabled ? `schedule ${d.schedule}` : "disabled"})`,
          );
          out.result("drop add", { drop: d });
        },
      ),
    );

  drop
    .command("list")
    .description("every drop with its health and latest run")
    .action(
      action(async (out) => {
        const list = await (await clientFactory()).call("listDrops");
        if (list.length === 0) out.line("no drops");
        for (const d of list) {
          const state = !d.enabled ? "disabled" : d.health === "ok" ? "ok" : "FAILING";
          const last = d.lastRun ? `${d.lastRun.status} ${d.lastRun.startedAt}` : "never run";
          out.line(
            `${d.name.padEnd(20)} ${d.direction.padEnd(4)} ${d.agency.padEnd(12)} ${state.padEnd(8)} ${d.schedule.padEnd(16)} ${last}`,
          );
        }
        out.result("drop list", { drops: list });
      }),
    );

  drop
    .command("show")
    .description("one drop's settings, health and latest run")
    .argument("<name>", "drop name")
    .action(
      action(async (out, name: string) => {
        const d = await (await clientFactory()).call("getDrop", { params: { name } });
        printDrop(out, d);
        out.result("drop show", { drop: d });
      }),
    );

  drop
    .command("run")
    .description("run a drop now (in addition to its schedule)")
    .argument("<name>", "drop name")
    .option("--wait", "wait for the run to end and report it")
    .addHelpText(
      "after",
      "\nWith --wait the exit code is 0 when the run succeeded and 10 when it failed (its errors are listed).",
    )
    .action(
      action(async (out, name: string, o: { wait?: boolean }) => {
        const { run } = await (await clientFactory()).call("runDrop", { params: { name }, body: { wait: !!o.wait } });
        if (o.wait) {
          out.line(runLine(run));
          for (const e of run.errors) out.line(`  ${e.file ?? `attempt ${e.attempt ?? "?"}`}: ${e.code} ${e.message}`);
        } else {
          out.line(`run #${run.id} of drop ${name} started; see: sealpost drop history ${name}`);
        }
        out.result("drop run", { run });
        // A run that refused files (partial) exits 12 like any refusal; one that failed exits 10.
        if (o.wait && run.status === "partial") process.exitCode = 12;
        else if (o.wait && run.status !== "ok") process.exitCode = 10;
      }),
    );

  drop
    .command("history")
    .description("runs of a drop, newest first: start, end, status, files, bytes, errors")
    .argument("<name>", "drop name")
    .option("--limit <n>", "how many runs (default 20)", intArg("--limit", 1, 500))
    .action(
      action(async (out, name: string, o: { limit?: number }) => {
        const runs = await (await clientFactory()).call("dropHistory", {
          params: { name },
          query: { limit: o.limit ?? 20 },
        });
        if (runs.length === 0) out.line("no runs yet");
        for (const r of runs) {
          out.line(runLine(r));
          for (const e of r.errors) out.line(`    ${e.file ?? `attempt ${e.attempt ?? "?"}`}: ${e.code} ${e.message}`);
        }
        out.result("drop history", { runs });
      }),
    );

  drop
    .command("disable")
    .description("stop scheduling a drop (a run in progress finishes)")
    .argument("<name>", "drop name")
    .action(
      action(async (out, name: string) => {
        const d = await (await clientFactory()).call("disableDrop", { params: { name } });
        out.line(`drop ${d.name} disabled`);
        out.result("drop disable", { drop: d });
      }),
    );

  drop
    .command("enable")
    .description("schedule a disabled drop again")
    .argument("<name>", "drop name")
    .action(
      action(async (out, name: string) => {
        const d = await (await clientFactory()).call("enableDrop", { params: { name } });
        out.line(`drop ${d.name} enabled (schedule ${d.schedule})`);
        out.result("drop enable", { drop: d });
      }),
    );
}

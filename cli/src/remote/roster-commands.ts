import { once } from "node:events";
import { createInterface } from "node:readline/promises";
import { SignStream } from "@sealpost/cms";
import { pickKey } from "@sealpost/pki";
import {
  encodeRoster,
  type RosterChanges,
  type RosterContent,
  type RosterEntry,
  rosterChanges,
} from "@sealpost/protocol";
import type { Command } from "commander";
import { addKeyOptions, addTrustOptions } from "../commands/common.js";
import { usageError } from "../errors.js";
import { checkOwnSigningCert } from "../trust.js";
import { RosterGuard, normaliseFingerprint } from "./roster-check.js";
import { loadRosterPins, pinOf, rosterPinsPath, saveRosterPins, setPin } from "./roster-pins.js";
import { type KeyOpts, keystoreOf, type RemoteRuntime, runtimeOf, type TrustOpts, trustOf } from "./runtime.js";

/** `sealpost roster show|sign|trust`: agency-signed recipient rosters. */

const action =
  <A extends unknown[]>(fn: (rt: RemoteRuntime, ...args: A) => Promise<void>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(await runtimeOf(cmd), ...(args.slice(0, -1) as A));
  };

const entryLine = (e: RosterEntry) => `${e.name} <${e.email}> cert sha256 ${e.certSha256} until ${e.notAfter}`;

/** The changes as an officer reviews them: one line each, "added", "removed", "replaced". */
function changeLines(ch: RosterChanges): string[] {
  return [
    ...ch.added.map((e) => `  added:    ${entryLine(e)}`),
    ...ch.removed.map((e) => `  removed:  ${entryLine(e)}`),
    ...ch.replaced.flatMap((r) => [
      ...r.before.map((e) => `  replaced: ${entryLine(e)}`),
      ...r.after.map((e) => `        by: ${entryLine(e)}`),
    ]),
  ];
}

/** Asks on the terminal; false without one (scripts pass --yes). */
async function confirm(rt: RemoteRuntime, question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw usageError("Signing a roster needs your confirmation.", "Run it on a terminal, or pass --yes in scripts.");
  }
  const rl = createInterface({ input: process.stdin, output: rt.out.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Signs `content` as CMS SignedData (attached, id-data) with the officer's signing key; returns the DER. */
async function signRoster(signer: ReturnType<typeof pickKey>, content: RosterContent): Promise<Buffer> {
  const s = new SignStream({ signer, includeChain: true });
  const out: Buffer[] = [];
  s.on("data", (b: Buffer) => out.push(b));
  const ended = once(s, "end");
  s.end(Buffer.from(encodeRoster(content)));
  await ended;
  return Buffer.concat(out);
}

export function registerRosterCommands(program: Command): void {
  const roster = program
    .command("roster")
    .description("agency-signed recipient rosters: what senders seal to, signed by the agency's roster officers");

  addTrustOptions(
    roster
      .command("show")
      .description(
        "show an agency's signed roster, verified here (signature, officer path and revocation, pinned officer key, version), and what awaits signature",
      )
      .argument("<code>", "agency code"),
  )
    .addHelpText("after", "\nExamples:\n  sealpost roster show KHH-TAX\n  sealpost roster show KHH-TAX --json")
    .action(
      action(async (rt, code: string, o: TrustOpts) => {
        const client = await rt.client();
        const guard = new RosterGuard(rt, client, await trustOf(rt, o));
        const v = await guard.roster(code, "review");
        const proposal = await client.call("getRosterProposal", { params: { code } });
        const changes = rosterChanges(v?.content.recipients ?? [], proposal.recipients);
        if (v) {
          rt.out.fields([
            ["agency", code],
            ["version", v.content.version],
            ["issued", v.content.issuedAt],
            ["signed by", `${v.signer.commonName || v.signer.subject} (officer key SHA-256 ${v.signer.sha256})`],
            ["pin", v.firstUse ? `pinned now in ${rosterPinsPath(rt.env)}` : "matches your pinned officer keys"],
            ["recipients", v.content.recipients.length],
          ]);
          for (const e of v.content.recipients) rt.out.line(`  ${entryLine(e)}`);
        } else {
          rt.out.line(`agency ${code} has no signed roster yet`);
        }
        const pending = changeLines(changes);
        if (pending.length > 0) {
          rt.out.line(`pending roster signature (version ${proposal.nextVersion}):`);
          for (const l of pending) rt.out.line(l);
        }
        rt.out.result("roster show", {
          agency: code,
          roster: v
            ? {
                ...v.content,
                signer: { commonName: v.signer.commonName, subject: v.signer.subject, sha256: v.signer.sha256 },
                contentSha256: v.contentSha256,
                pinnedNow: v.firstUse,
              }
            : null,
          pending: changes,
        });
      }),
    );

  addTrustOptions(
    addKeyOptions(
      roster
        .command("sign")
        .description(
          "as a roster officer: review the changes the registry proposes (added, removed, replaced) and sign the agency's next roster with your signing key",
        )
        .requiredOption("--agency <code>", "your agency's code")
        .option("--yes", "sign without asking (scripts); the changes are still printed"),
    ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost roster sign --agency KHH-TAX --key officer.p12\n  SEALPOST_PIN_FILE=... sealpost roster sign --agency KHH-TAX --yes",
    )
    .action(
      action(async (rt, o: KeyOpts & TrustOpts & { agency: string; yes?: boolean }) => {
        const code = o.agency;
        const trust = await trustOf(rt, o);
        const signer = pickKey(await keystoreOf(rt, o), "sign");
        for (const w of (await checkOwnSigningCert(signer, trust)).warnings)
          rt.out.warn(`your signing certificate: ${w}`);
        const client = await rt.client();
        const guard = new RosterGuard(rt, client, trust);
        const current = await guard.roster(code, "review");
        const proposal = await client.call("getRosterProposal", { params: { code } });
        const changes = rosterChanges(current?.content.recipients ?? [], proposal.recipients);
        const lines = changeLines(changes);
        if (current && lines.length === 0) {
          rt.out.line(`roster of ${code} is current (version ${current.content.version}): nothing to sign`);
          rt.out.result("roster sign", { agency: code, signed: false, version: current.content.version });
          return;
        }
        const version = Math.max(proposal.nextVersion, (current?.content.version ?? 0) + 1);
        rt.out.line(
          `roster of ${code}: version ${current?.content.version ?? "none"} -> ${version}, ${proposal.recipients.length} recipient certificates`,
        );
        for (const l of lines) rt.out.line(l);
        if (!o.yes && !(await confirm(rt, `Sign version ${version} of ${code}'s roster?`))) {
          throw usageError("Not signed.", "Nothing was sent to the server.");
        }
        const content: RosterContent = {
          type: "sealpost-roster",
          agency: code,
          version,
          issuedAt: new Date().toISOString(),
          recipients: proposal.recipients,
        };
        const cms = await signRoster(signer, content);
        const stored = await client.call("putRoster", {
          params: { code },
          body: { cms: cms.toString("base64") },
        });
        // The officer's own CLI moves its pin to the version it signed (and pins its own key at first use).
        const pins = await loadRosterPins(rt.env);
        const pin = pinOf(pins, client.base, code);
        setPin(pins, client.base, code, {
          officers: pin?.officers.length ? pin.officers : [signer.cert.sha256],
          version: stored.version,
          contentSha256: null,
          pinnedAt: pin?.pinnedAt ?? new Date().toISOString(),
        });
        await saveRosterPins(pins, rt.env);
        rt.out.line(
          `signed roster version ${stored.version} of ${code} (${stored.recipients.length} recipient certificates) with officer key SHA-256 ${signer.cert.sha256}`,
        );
        rt.out.result("roster sign", {
          agency: code,
          signed: true,
          version: stored.version,
          officerSha256: signer.cert.sha256,
          changes,
        });
      }),
    );

  roster
    .command("trust")
    .description(
      "trust another officer key of an agency (after confirming its SHA-256 with the agency out of band), like SSH known_hosts",
    )
    .argument("<code>", "agency code")
    .requiredOption("--fingerprint <sha256>", "SHA-256 of the officer's signing certificate (hex; colons allowed)")
    .addHelpText("after", "\nExample:\n  sealpost roster trust KHH-TAX --fingerprint 3f9a...c21e")
    .action(
      action(async (rt, code: string, o: { fingerprint: string }) => {
        const sha = normaliseFingerprint(o.fingerprint);
        if (!sha) throw usageError("--fingerprint must be a SHA-256 (64 hex digits).");
        const client = await rt.client();
        const pins = await loadRosterPins(rt.env);
        const pin = pinOf(pins, client.base, code);
        const officers = [...new Set([...(pin?.officers ?? []), sha])];
        setPin(pins, client.base, code, {
          officers,
          version: pin?.version ?? 0,
          contentSha256: pin?.contentSha256 ?? null,
          pinnedAt: pin?.pinnedAt ?? new Date().toISOString(),
        });
        const where = await saveRosterPins(pins, rt.env);
        rt.out.line(
          `officer key ${sha} trusted for ${code} at ${client.base} (${officers.length} pinned, in ${where})`,
        );
        rt.out.result("roster trust", { agency: code, server: client.base, officers, pins: where });
      }),
    );
}

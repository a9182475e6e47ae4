import type { Command } from "commander";
import { stderrLogger } from "../log.js";
import { addAdmin, resetAllowList, revokeTokens } from "./admin.js";

/** Registers `sealpost-server admin add-admin|reset-allow-list|revoke-tokens` (local recovery, see admin.ts). */
export function registerLocalAdminCommands(program: Command): void {
  const admin = program
    .command("admin")
    .description(
      "recovery on the data folder itself, no network and no login: add an admin, reset an allow-list, revoke tokens (each audited)",
    );

  admin
    .command("add-admin")
    .description("register a new administrator (staff member with role admin) and their signing certificate")
    .requiredOption("--data <dir>", "data folder")
    .requiredOption("--agency <code>", "the admin's agency (registered)")
    .requiredOption("--email <email>", "the admin's e-mail address (not yet registered)")
    .requiredOption("--cert <cert.pem>", "the admin's signing certificate (PEM), checked against the trust anchors")
    .option("--name <name>", "the admin's name", "administrator")
    .addHelpText(
      "after",
      "\nExample:\n  sealpost-server admin add-admin --data /srv/sealpost --agency SEALPOST --email lin@example.gov.tw \\\n    --name 'Lin' --cert lin-sign.pem",
    )
    .action(async (o: { data: string; agency: string; email: string; cert: string; name: string }) => {
      const r = await addAdmin(
        o.data,
        { agency: o.agency, email: o.email, name: o.name, certFile: o.cert },
        stderrLogger(),
      );
      process.stdout.write(
        `added admin ${r.staff.name} <${r.staff.email}> (${r.staff.agency}, id ${r.staff.id}), signing certificate sha256 ${r.certificate.sha256}\n`,
      );
    });

  admin
    .command("reset-allow-list")
    .description("clear an agency's IP allow-list: its staff may log in from any address again")
    .requiredOption("--data <dir>", "data folder")
    .argument("<agency>", "agency code")
    .addHelpText("after", "\nExample:\n  sealpost-server admin reset-allow-list --data /srv/sealpost SEALPOST")
    .action(async (code: string, o: { data: string }) => {
      const r = await resetAllowList(o.data, code, stderrLogger());
      process.stdout.write(
        `agency ${r.agency.code}: allow-list cleared (was ${r.before.join(", ") || "already empty"}); any address may log in\n`,
      );
    });

  admin
    .command("revoke-tokens")
    .description("end logins: of one staff member, of one agency's staff, or all; they log in again")
    .requiredOption("--data <dir>", "data folder")
    .option("--staff <email>", "this staff member's logins (e-mail address or id)")
    .option("--agency <code>", "the logins of this agency's staff")
    .option("--all", "every login")
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost-server admin revoke-tokens --data /srv/sealpost --staff chen@example.gov.tw\n  sealpost-server admin revoke-tokens --data /srv/sealpost --all",
    )
    .action(async (o: { data: string; staff?: string; agency?: string; all?: boolean }) => {
      const r = await revokeTokens(o.data, o, stderrLogger());
      process.stdout.write(`logins revoked: ${r.scope}\n`);
    });
}

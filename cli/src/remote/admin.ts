import type { CertPurpose, Role } from "@sealpost/protocol";
import { type Command, Option } from "commander";
import { collect } from "../commands/common.js";
import { usageError } from "../errors.js";
import { certificatesToUpload } from "./cert-file.js";
import { type RemoteRuntime, runtimeOf } from "./runtime.js";

/** `sealpost admin agency|user|cert|category add|list|revoke`: the registry (role admin on the server). */

const action =
  <A extends unknown[]>(fn: (rt: RemoteRuntime, ...args: A) => Promise<void>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(await runtimeOf(cmd), ...(args.slice(0, -1) as A));
  };

/** An agency's subject rules for a report line: "" when none. */
const rulesText = (rules: string[] | undefined) => (rules?.length ? `  subject ${rules.join(", ")}` : "");

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command("admin")
    .description("manage the registry: agencies, staff, certificates, transfer categories (admins only)");

  const agency = admin.command("agency").description("agencies");
  agency
    .command("add")
    .argument("<code>", "agency code, e.g. KHH-TAX")
    .requiredOption("--name <name>", "agency name (Chinese)")
    .requiredOption("--email <email>", "agency contact e-mail")
    .option("--allow <cidr>", "allowed source network (repeatable; none = any)", collect)
    .option(
      "--subject <ATTR=VALUE>",
      "a subject attribute every certificate of the agency's staff must carry (repeatable)",
      collect,
    )
    .addHelpText(
      "after",
      '\nExample:\n  sealpost admin agency add KHH-TAX --name 高雄市稅捐稽徵處 --email sealpost@tax.khh.example \\\n    --subject "O=高雄市稅捐稽徵處" --subject "OU=KHH-TAX"',
    )
    .action(
      action(async (rt, code: string, o: { name: string; email: string; allow?: string[]; subject?: string[] }) => {
        const a = await (await rt.client()).call("addAgency", {
          body: {
            code,
            name: o.name,
            email: o.email,
            allowCidrs: o.allow ?? [],
            subjectRules: o.subject ?? [],
          },
        });
        rt.out.line(`agency ${a.code} ${a.name} registered${rulesText(a.subjectRules)}`);
        rt.out.result("admin agency add", { agency: a });
      }),
    );
  agency
    .command("edit")
    .description("change an agency's name, e-mail or certificate subject rules")
    .argument("<code>", "agency code")
    .option("--name <name>", "new agency name")
    .option("--email <email>", "new contact e-mail")
    .option(
      "--subject <ATTR=VALUE>",
      "subject attribute every staff certificate must carry (repeatable; replaces the agency's rules)",
      collect,
    )
    .option("--no-subject", "remove every subject rule")
    .addHelpText(
      "after",
      '\nExample:\n  sealpost admin agency edit KHH-TAX --subject "O=高雄市稅捐稽徵處" --subject "OU=KHH-TAX"',
    )
    .action(
      action(async (rt, code: string, o: { name?: string; email?: string; subject?: string[] | false }) => {
        const body = {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.email !== undefined ? { email: o.email } : {}),
          ...(o.subject === false ? { subjectRules: [] } : o.subject ? { subjectRules: o.subject } : {}),
        };
        if (Object.keys(body).length === 0)
          throw usageError("Nothing to change.", "Give --name, --email, --subject or --no-subject.");
        const a = await (await rt.client()).call("updateAgency", { params: { code }, body });
        rt.out.line(`agency ${a.code} ${a.name} <${a.email}> updated${rulesText(a.subjectRules)}`);
        rt.out.result("admin agency edit", { agency: a });
      }),
    );
  agency
    .command("allow")
    .description("replace an agency's IP allow-list (no CIDR: allow any address)")
    .argument("<code>", "agency code")
    .argument("[cidr...]", "allowed networks, e.g. 10.20.0.0/16")
    .option("--force", "apply a list that leaves out the address you act from (locks you out; default: refused)")
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost admin agency allow KHH-SOC 10.20.0.0/16 192.0.2.7\n  sealpost admin agency allow KHH-SOC        (any address)",
    )
    .action(
      action(async (rt, code: string, cidrs: string[], o: { force?: boolean }) => {
        const a = await (await rt.client()).call("updateAgency", {
          params: { code },
          body: { allowCidrs: cidrs, ...(o.force ? { force: true } : {}) },
        });
        rt.out.line(`agency ${a.code} allow-list: ${a.allowCidrs.join(", ") || "any address"}`);
        rt.out.result("admin agency allow", { agency: a });
      }),
    );
  agency
    .command("revoke")
    .description("withdraw an agency: its staff can no longer log in, it can no longer receive cases")
    .argument("<code>", "agency code")
    .action(
      action(async (rt, code: string) => {
        const a = await (await rt.client()).call("deactivateAgency", { params: { code } });
        rt.out.line(`agency ${a.code} withdrawn`);
        rt.out.result("admin agency revoke", { agency: a });
      }),
    );
  agency.command("list").action(
    action(async (rt) => {
      const list = await (await rt.client()).call("listAgencies");
      for (const a of list) {
        rt.out.line(
          `${a.code.padEnd(14)} ${a.name}  <${a.email}>  ${a.allowCidrs.join(",") || "any"}${rulesText(a.subjectRules)}`,
        );
      }
      rt.out.result("admin agency list", { agencies: list });
    }),
  );

  const officer = agency
    .command("officer")
    .description("roster officers: staff whose signing certificate signs the agency's recipient roster");
  officer
    .command("add")
    .description(
      "make a staff member's registered signing certificate a roster officer key of the agency; prints its SHA-256 to confirm out of band",
    )
    .argument("<code>", "agency code")
    .requiredOption("--user <email>", "the staff member (of that agency)")
    .option("--cert <sha256>", "which registered signing certificate (default: the newest active one)")
    .action(
      action(async (rt, code: string, o: { user: string; cert?: string }) => {
        const off = await (await rt.client()).call("addOfficer", {
          params: { code },
          body: { user: o.user, ...(o.cert ? { certSha256: o.cert } : {}) },
        });
        rt.out.line(`roster officer of ${code}: ${off.name} <${off.email}>`);
        rt.out.line(`officer key SHA-256: ${off.certSha256}`);
        rt.out.line("confirm this fingerprint with the officer and the agencies that send to it, out of band");
        rt.out.result("admin agency officer add", { officer: off });
      }),
    );
  officer
    .command("list")
    .argument("<code>", "agency code")
    .action(
      action(async (rt, code: string) => {
        const list = await (await rt.client()).call("listOfficers", { params: { code } });
        for (const off of list) {
          rt.out.line(
            `${off.certSha256}  ${off.certStatus.padEnd(7)} ${off.name} <${off.email}>  since ${off.addedAt}`,
          );
        }
        if (list.length === 0) rt.out.line(`agency ${code} has no roster officers`);
        rt.out.result("admin agency officer list", { officers: list });
      }),
    );
  officer
    .command("remove")
    .description("remove a roster officer key (rosters it signed stay; senders keep their pins until they change them)")
    .argument("<code>", "agency code")
    .requiredOption("--fingerprint <sha256>", "SHA-256 of the officer key")
    .action(
      action(async (rt, code: string, o: { fingerprint: string }) => {
        const off = await (await rt.client()).call("removeOfficer", {
          params: { code, sha256: o.fingerprint.replace(/[\s:]/g, "").toLowerCase() },
        });
        rt.out.line(`officer key ${off.certSha256} of ${off.name} removed from ${code}`);
        rt.out.result("admin agency officer remove", { officer: off });
      }),
    );

  const user = admin.command("user").description("staff members");
  user
    .command("add")
    .requiredOption("--agency <code>", "agency code")
    .requiredOption("--name <name>", "full name")
    .requiredOption("--email <email>", "e-mail (also the login name)")
    .addOption(new Option("--role <role>", "role").choices(["staff", "admin", "ops"]).default("staff"))
    .action(
      action(async (rt, o: { agency: string; name: string; email: string; role: string }) => {
        const s = await (await rt.client()).call("addStaff", { body: { ...o, role: o.role as Role } });
        rt.out.line(`staff ${s.name} <${s.email}> (${s.agency}, ${s.role}) registered: id ${s.id}`);
        rt.out.result("admin user add", { staff: s });
      }),
    );
  user
    .command("list")
    .option("--agency <code>", "only this agency")
    .action(
      action(async (rt, o: { agency?: string }) => {
        const list = await (await rt.client()).call("listStaff", { query: { agency: o.agency } });
        for (const s of list) {
          rt.out.line(
            `${s.agency.padEnd(14)} ${s.role.padEnd(6)} ${s.active ? "active  " : "inactive"} ${s.name} <${s.email}>`,
          );
        }
        rt.out.result("admin user list", { staff: list });
      }),
    );
  user
    .command("revoke")
    .description("deactivate a staff member (their sessions end)")
    .argument("<email>", "e-mail or id")
    .action(
      action(async (rt, who: string) => {
        const s = await (await rt.client()).call("deactivateStaff", { params: { id: who } });
        rt.out.line(`staff ${s.email} deactivated`);
        rt.out.result("admin user revoke", { staff: s });
      }),
    );

  const cert = admin.command("cert").description("staff certificates (signing and encryption)");
  cert
    .command("add")
    .description(
      "register a certificate; the server checks chain, key usage, validity, revocation, and that it names the staff member (CN, the agency's subject rules, e-mail)",
    )
    .argument(
      "<cert.pem>",
      "the certificate (PEM or DER; may be followed by its chain); never a file with a private key",
    )
    .requiredOption("--user <email>", "the staff member")
    .addOption(new Option("--purpose <p>", "default: from the key usage").choices(["sign", "encrypt"]))
    .action(
      action(async (rt, file: string, o: { user: string; purpose?: string }) => {
        // Only the certificates leave this computer; a file with a private key is refused before any request.
        const pem = await certificatesToUpload(file);
        const c = await (await rt.client()).call("addCertificate", {
          body: { staff: o.user, pem, ...(o.purpose ? { purpose: o.purpose as CertPurpose } : {}) },
        });
        rt.out.line(`${c.purpose} certificate of ${c.commonName} registered: sha256 ${c.sha256}`);
        rt.out.result("admin cert add", { certificate: { ...c, pem: undefined } });
      }),
    );
  cert
    .command("list")
    .option("--user <email>", "only this staff member")
    .action(
      action(async (rt, o: { user?: string }) => {
        const list = await (await rt.client()).call("listCertificates", { query: { staff: o.user } });
        for (const c of list) {
          rt.out.line(
            `${c.sha256.slice(0, 16)}  ${c.purpose.padEnd(7)} ${c.status.padEnd(7)} ${c.commonName}  serial ${c.serialHex}  until ${c.notAfter}`,
          );
        }
        rt.out.result("admin cert list", { certificates: list.map((c) => ({ ...c, pem: undefined })) });
      }),
    );
  cert
    .command("revoke")
    .description("revoke a registered certificate: it can no longer log in or receive files")
    .argument("<id>", "certificate id, SHA-256, or the short id `admin cert list` prints (a unique SHA-256 prefix)")
    .option("--reason <text>", "why")
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost admin cert list --user chen@soc.khh.example\n  sealpost admin cert revoke 3f2a9c1e0b7d4a58 --reason 'card lost'",
    )
    .action(
      action(async (rt, given: string, o: { reason?: string }) => {
        const client = await rt.client();
        let id = given;
        // A short id (8 to 63 hex digits): the one registered certificate whose SHA-256 starts with it.
        if (/^[0-9a-f]{8,63}$/i.test(given)) {
          const matches = (await client.call("listCertificates", { query: {} })).filter((c) =>
            c.sha256.startsWith(given.toLowerCase()),
          );
          if (matches.length > 1) {
            throw usageError(
              `${given} is the start of ${matches.length} certificates' SHA-256: ${matches.map((c) => `${c.sha256.slice(0, 24)} (${c.commonName})`).join(", ")}.`,
              "Give more of the SHA-256 (sealpost admin cert list shows them).",
            );
          }
          if (matches[0]) id = matches[0].sha256;
        }
        const c = await client.call("revokeCertificate", {
          params: { id },
          body: { reason: o.reason ?? "" },
        });
        rt.out.line(`certificate ${c.sha256} of ${c.commonName} revoked`);
        rt.out.result("admin cert revoke", { certificate: { ...c, pem: undefined } });
      }),
    );

  const category = admin.command("category").description("transfer categories");
  category
    .command("add")
    .argument("<code>", "category code")
    .requiredOption("--name <name>", "category name")
    .requiredOption("--purpose <text>", "the lawful purpose of these transfers")
    .action(
      action(async (rt, code: string, o: { name: string; purpose: string }) => {
        const c = await (await rt.client()).call("addCategory", { body: { code, ...o } });
        rt.out.line(`category ${c.code} ${c.name} added`);
        rt.out.result("admin category add", { category: c });
      }),
    );
  category.command("list").action(
    action(async (rt) => {
      const list = await (await rt.client()).call("listCategories");
      for (const c of list)
        rt.out.line(`${c.code.padEnd(16)} ${c.active ? "active " : "retired"} ${c.name}: ${c.purpose}`);
      rt.out.result("admin category list", { categories: list });
    }),
  );
  category
    .command("revoke")
    .description("retire a category (no new cases)")
    .argument("<code>", "category code")
    .action(
      action(async (rt, code: string) => {
        const c = await (await rt.client()).call("deactivateCategory", { params: { code } });
        rt.out.line(`category ${c.code} retired`);
        rt.out.result("admin category revoke", { category: c });
      }),
    );

  // Examples for the subcommands that have none of their own.
  const EXAMPLES: Record<string, string[]> = {
    "agency add": [
      "sealpost admin agency add KHH-TAX --name 高雄市稅捐稽徵處 --email it@tax.khh.example --allow 10.20.0.0/16",
    ],
    "agency revoke": ["sealpost admin agency revoke KHH-OLD"],
    "agency list": ["sealpost admin agency list", "sealpost admin agency list --json"],
    "user add": ["sealpost admin user add --agency KHH-TAX --name 王建民 --email wang@tax.khh.example"],
    "user list": ["sealpost admin user list --agency KHH-TAX"],
    "user revoke": ["sealpost admin user revoke wang@tax.khh.example"],
    "cert add": ["sealpost admin cert add sign.cert.pem --user wang@tax.khh.example"],
    "cert list": ["sealpost admin cert list --user wang@tax.khh.example"],
    "category add": [
      "sealpost admin category add WELFARE-TAX --name 社會救助資格財稅資料查調 --purpose 'eligibility checks'",
    ],
    "category list": ["sealpost admin category list"],
    "category revoke": ["sealpost admin category revoke WELFARE-TAX"],
  };
  for (const group of admin.commands) {
    for (const sub of group.commands) {
      const lines = EXAMPLES[`${group.name()} ${sub.name()}`];
      if (lines) sub.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`);
    }
  }
}

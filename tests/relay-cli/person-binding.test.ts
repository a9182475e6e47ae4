import { createPrivateKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CompiledQuery } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { recipientViews } from "../../cli/src/remote/recipient-names.js";
import { M, pki, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * Certificates bound to people, from the CLI's side, against a real relay (in-process, loopback) with the spawned
 * `sealpost` binary: `admin cert add` refuses another person's certificate (the server's CERT_NOT_PERSON, both sides
 * shown) and refuses files holding a private key before any request reaches the server; send, reply and case show
 * name each recipient from the certificate (parsed by the CLI) and warn when the registry's name differs, as it
 * does when someone writes the registry's database directly.
 */

let relay: TestRelay;
const wang = M.people["tax-wang"];
const chen = M.people["soc-chen"];

/** Raw SQL on the relay's SQLite database: the compromised relay of the attack. */
async function sql(text: string, ...params: unknown[]): Promise<void> {
  await relay.server.ctx.db.kysely.executeQuery(CompiledQuery.raw(text, params));
}
const setRegistryName = (email: string, name: string) =>
  sql("UPDATE staff SET name = ? WHERE lower(email) = lower(?)", name, email);

/** Requests the relay's HTTP server receives while `run` runs. */
async function requestsDuring<T>(run: () => Promise<T>): Promise<{ result: T; requests: number }> {
  let requests = 0;
  const count = () => {
    requests++;
  };
  relay.server.app.server.on("request", count);
  try {
    return { result: await run(), requests };
  } finally {
    relay.server.app.server.off("request", count);
  }
}

const ok = async (id: string, args: string[]) => {
  const r = await sealpostAs(relay, id, args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r;
};

beforeAll(async () => {
  relay = await startRelay("sealpost-person-binding-");
  await registerFixtureRegistry(relay.server.url);
  for (const id of ["ops-wu", "soc-chen", "tax-wang"]) await ok(id, ["login"]);
  writeFileSync(join(relay.work, "batch.csv"), "id,name\n1,王小明\n2,林美華\n");
});
afterAll(async () => {
  await relay?.close();
});

describe("admin cert add", () => {
  test("another person's certificate for a staff member: exit 8, CERT_NOT_PERSON, both sides shown", async () => {
    const lee = M.people["tax-lee"];
    const r = await sealpostAs(relay, "ops-wu", ["admin", "cert", "add", pki(lee.encrypt.cert), "--user", wang.email]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("[CERT_NOT_PERSON]");
    expect(r.stderr).toContain(`CN=${lee.name}`);
    expect(r.stderr).toContain(`${wang.name} <${wang.email}>`);
    const j = await sealpostAs(relay, "ops-wu", [
      "--json",
      "admin",
      "cert",
      "add",
      pki(lee.encrypt.cert),
      "--user",
      wang.email,
    ]);
    expect(j.code).toBe(8);
    const err = JSON.parse(j.stdout).error;
    expect(err.code).toBe("CERT_NOT_PERSON");
    expect(err.details.certificate.commonName).toBe(lee.name);
    expect(err.details.staff).toMatchObject({ name: wang.name, email: wang.email });
    // tax-wang still has exactly the own two certificates.
    const list = await ok("ops-wu", ["--json", "admin", "cert", "list", "--user", wang.email]);
    expect(JSON.parse(list.stdout).certificates.map((c: { commonName: string }) => c.commonName)).toEqual([
      wang.name,
      wang.name,
    ]);
  });

  test("a file holding a private key is refused before anything is sent", async () => {
    const lin = M.people["soc-lin"];
    const dir = join(relay.work, "keys");
    mkdirSync(dir, { recursive: true });
    const certAndKey = join(dir, "cert-and-key.pem");
    writeFileSync(certAndKey, readFileSync(pki(lin.sign.cert), "utf8") + readFileSync(pki(lin.sign.key), "utf8"));
    const derKey = join(dir, "key.der");
    writeFileSync(
      derKey,
      createPrivateKey(readFileSync(pki(lin.sign.key))).export({ type: "pkcs8", format: "der" }) as Buffer,
    );
    const rsaKey = join(dir, "rsa.pem");
    writeFileSync(
      rsaKey,
      createPrivateKey(readFileSync(pki(lin.sign.key))).export({ type: "pkcs1", format: "pem" }) as string,
    );
    const files: [string, RegExp][] = [
      [pki(lin.sign.key), /PEM "PRIVATE KEY" block/],
      [pki(lin.sign.key_encrypted), /PEM "ENCRYPTED PRIVATE KEY" block/],
      [rsaKey, /PEM "RSA PRIVATE KEY" block/],
      [certAndKey, /PEM "PRIVATE KEY" block/],
      [pki(lin.p12), /PKCS#12 keystore/],
      [derKey, /DER private key/],
    ];
    const audited = async () =>
      (await relay.server.ctx.db.kysely.executeQuery(CompiledQuery.raw("SELECT count(*) AS n FROM audit_log", [])))
        .rows[0] as { n: number };
    const auditBefore = (await audited()).n;
    for (const [file, found] of files) {
      const { result: r, requests } = await requestsDuring(() =>
        sealpostAs(relay, "ops-wu", ["admin", "cert", "add", file, "--user", chen.email]),
      );
      expect(r.code, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain("[PRIVATE_KEY_IN_FILE]");
      expect(r.stderr).toMatch(found);
      expect(r.stderr).toContain("nothing was sent");
      expect(r.stderr).not.toContain("BEGIN");
      expect(requests, file).toBe(0);
    }
    expect((await audited()).n).toBe(auditBefore);
    // The counter does see requests: a plain certificate of the right person goes through (409: registered already).
    const { result: sent, requests } = await requestsDuring(() =>
      sealpostAs(relay, "ops-wu", ["admin", "cert", "add", pki(chen.sign.cert), "--user", chen.email]),
    );
    expect(sent.stderr).toContain("[CONFLICT]");
    expect(requests).toBeGreaterThan(0);
  });
});

describe("admin agency edit", () => {
  test("subject rules are replaced, shown, enforced on cert add, and removed with --no-subject", async () => {
    const nothing = await sealpostAs(relay, "ops-wu", ["admin", "agency", "edit", "KHH-SOC"]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("Nothing to change");
    const set = await ok("ops-wu", ["admin", "agency", "edit", "KHH-SOC", "--subject", "O=臺南市政府社會局"]);
    expect(set.stdout).toContain(
      "agency KHH-SOC 高雄市政府社會局 <sealpost@soc.khh.example> updated  subject O=臺南市政府社會局",
    );
    // soc-chen's own certificate no longer carries the agency's subject attributes.
    const r = await sealpostAs(relay, "ops-wu", ["admin", "cert", "add", pki(chen.encrypt.cert), "--user", chen.email]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("[CERT_NOT_PERSON]");
    expect(r.stderr).toContain("lacks the agency's O=臺南市政府社會局");
    const none = await ok("ops-wu", ["--json", "admin", "agency", "edit", "KHH-SOC", "--no-subject"]);
    expect(JSON.parse(none.stdout).agency.subjectRules).toEqual([]);
    const back = await ok("ops-wu", [
      "--json",
      "admin",
      "agency",
      "edit",
      "KHH-SOC",
      "--subject",
      "O=高雄市政府社會局",
      "--subject",
      "OU=KHH-SOC",
    ]);
    expect(JSON.parse(back.stdout).agency.subjectRules).toEqual(["O=高雄市政府社會局", "OU=KHH-SOC"]);
    const list = await ok("ops-wu", ["admin", "agency", "list"]);
    expect(list.stdout).toContain("subject O=高雄市政府社會局, OU=KHH-SOC");
  });
});

describe("recipient names come from the certificates", () => {
  test("send and case show: the certificate's name with the registry's beside it, and a warning", async () => {
    // A relay whose database names tax-wang otherwise (with a terminal escape sequence in the name).
    await setRegistryName(wang.email, "王大明\u001b[2J");
    try {
      const human = await ok("soc-chen", [
        "send",
        join(relay.work, "batch.csv"),
        "--to-agency",
        "KHH-TAX",
        "--category",
        "C",
        "--records",
        "2",
        "--upload-no",
        "PB-1",
      ]);
      expect(human.stdout).toMatch(/sealed to 王建民 \[registry: 王大明.*\] <wang@tax\.khh\.example> \(KHH-TAX\)/);
      expect(human.stdout).toContain(`sealed to ${chen.name} <${chen.email}> (KHH-SOC)`);
      expect(human.stderr).toMatch(
        /sealpost: warning: recipient wang@tax\.khh\.example: the registry names 王大明.*, but the certificate names 王建民/,
      );
      // Escaped for the terminal: no raw ESC reaches stdout or stderr.
      expect(human.stderr).not.toContain("\u001b");
      expect(human.stdout).not.toContain("\u001b");
      const caseId = /registered case (\S+)/.exec(human.stdout)?.[1];
      expect(caseId).toBeDefined();

      const json = await ok("soc-chen", [
        "--json",
        "send",
        join(relay.work, "batch.csv"),
        "--to-agency",
        "KHH-TAX",
        "--category",
        "C",
        "--records",
        "2",
        "--upload-no",
        "PB-2",
      ]);
      const out = JSON.parse(json.stdout);
      const r = out.recipients.find((x: { email: string }) => x.email === wang.email);
      expect(r).toMatchObject({
        name: wang.name,
        certificateName: wang.name,
        registryName: "王大明\u001b[2J",
        agency: "KHH-TAX",
      });
      expect(r.warning).toContain("the registry names 王大明");
      expect(out.warnings.some((w: string) => w.includes("the certificate names 王建民"))).toBe(true);
      const own = out.recipients.find((x: { email: string }) => x.email === chen.email);
      expect(own).toMatchObject({ name: chen.name, registryName: chen.name, warning: null });

      for (const who of ["soc-chen", "tax-wang"]) {
        const show = await ok(who, ["case", "show", caseId!]);
        expect(show.stdout).toMatch(/recipient 王建民 \[registry: 王大明.*\] <wang@tax\.khh\.example>/);
        expect(show.stderr).toContain("warning: recipient wang@tax.khh.example: the registry names 王大明");
        const showJson = JSON.parse((await ok(who, ["--json", "case", "show", caseId!])).stdout);
        expect(showJson.recipients.find((x: { email: string }) => x.email === wang.email)).toMatchObject({
          certificateName: wang.name,
          registryName: "王大明\u001b[2J",
        });
      }
    } finally {
      await setRegistryName(wang.email, wang.name);
    }
    // With the registry telling the truth again: no warning.
    const clean = await ok("soc-chen", [
      "--json",
      "send",
      join(relay.work, "batch.csv"),
      "--to-agency",
      "KHH-TAX",
      "--category",
      "C",
      "--records",
      "2",
      "--upload-no",
      "PB-3",
    ]);
    const out = JSON.parse(clean.stdout);
    expect(out.recipients.every((x: { warning: string | null }) => x.warning === null)).toBe(true);
    // (Other warnings, such as an agency without a signed roster yet, are not about names.)
    expect(out.warnings.filter((w: string) => w.startsWith("recipient "))).toEqual([]);
  });

  test("reply: the sending agency's staff are named from their certificates too", async () => {
    const sent = JSON.parse(
      (
        await ok("soc-chen", [
          "--json",
          "send",
          join(relay.work, "batch.csv"),
          "--to-agency",
          "KHH-TAX",
          "--category",
          "C",
          "--records",
          "2",
          "--upload-no",
          "PB-4",
        ])
      ).stdout,
    );
    const id = sent.case.id as string;
    await ok("tax-wang", ["receive", id, "-o", join(relay.work, "in")]);
    writeFileSync(join(relay.work, "result.csv"), "id,match\n1,yes\n2,no\n");
    await setRegistryName(chen.email, "陳冒名");
    try {
      const r = await ok("tax-wang", ["--json", "reply", id, join(relay.work, "result.csv")]);
      const out = JSON.parse(r.stdout);
      expect(out.recipients.find((x: { email: string }) => x.email === chen.email)).toMatchObject({
        name: chen.name,
        registryName: "陳冒名",
      });
      expect(r.stderr).toContain(`the registry names 陳冒名, but the certificate names ${chen.name}`);
    } finally {
      await setRegistryName(chen.email, chen.name);
    }
  });
});

test("a profile entry whose certificate cannot be read is named by nobody, with a warning (no crash)", () => {
  const certificate = { pem: "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n" };
  const [v] = recipientViews([
    { staffId: "x", name: "王建民", email: wang.email, agency: "KHH-TAX", certificate } as never,
  ]);
  expect(v).toMatchObject({ name: "", certificateName: "", registryName: "王建民" });
  expect(v!.warning).toContain("the certificate cannot be read");
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCertificate } from "@sealpost/pki";
import type { RunningServer } from "@sealpost/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { issueTestCrl } from "../helpers/issue-cert.js";
import { clientAs, M, pki, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * Agency-signed recipient rosters end to end: a real relay on a loopback port, the spawned `sealpost` binary for the
 * admin, the officers and the sender. The relay's database is tampered with directly where a test plays a
 * compromised relay; each such test checks that `send` exits 8 with no case registered and nothing uploaded.
 */

let relay: TestRelay;
/** The relay's database, written directly where a test plays a compromised relay. */
let db: RunningServer["ctx"]["db"]["kysely"];
const TAX = "KHH-TAX";
const cert = (id: string, purpose: "sign" | "encrypt") =>
  parseCertificate(readFileSync(pki(M.people[id][purpose].cert), "utf8"));
const sp = (id: string, args: string[], opts: Parameters<typeof sealpostAs>[3] = {}) =>
  sealpostAs(relay, id, args, opts);
const ok = async (id: string, args: string[]) => {
  const r = await sp(id, args);
  expect(r.code, `${id}: ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
};

beforeAll(async () => {
  relay = await startRelay("sealpost-rosters-");
  db = relay.server.ctx.db.kysely;
  await registerFixtureRegistry(relay.server.url);
  const admin = await clientAs(relay.server.url, "ops-wu");
  for (const id of ["tax-lee", "tax-chang"]) {
    const p = M.people[id];
    await admin.addStaff({ body: { agency: p.agency, name: p.name, email: p.email } });
    for (const purpose of ["sign", "encrypt"] as const) {
      await admin.addCertificate({ body: { staff: p.email, pem: readFileSync(pki(p[purpose].cert), "utf8") } });
    }
  }
  for (const id of ["ops-wu", "soc-chen", "tax-lee", "tax-wang"]) await ok(id, ["login"]);
  writeFileSync(join(relay.work, "batch.csv"), "seq,name\n1,王小明\n2,陳大文\n");
}, 180_000);
afterAll(async () => {
  await relay?.close();
});

let uploadNo = 0;
/** `sealpost --json send batch.csv` from soc-chen to KHH-TAX (extra options appended). */
const send = (extra: string[] = [], opts: Parameters<typeof sealpostAs>[3] = {}) =>
  sp(
    "soc-chen",
    [
      "--json",
      "send",
      join(relay.work, "batch.csv"),
      "--to-agency",
      TAX,
      "--category",
      "C",
      "--records",
      "2",
      "--upload-no",
      `R-${++uploadNo}`,
      ...extra,
    ],
    opts,
  );
const counts = async () => ({
  cases: (await db.selectFrom("cases").select("id").execute()).length,
  files: (await db.selectFrom("files").select("sha256").execute()).length,
});
const sentTo = (stdout: string) =>
  (JSON.parse(stdout) as { recipients: { email: string }[] }).recipients.map((r) => r.email).sort();
const emails = (...ids: string[]) => ids.map((id) => M.people[id].email).sort();

/** Runs `send` expecting refusal `code` with exit 8, and checks that nothing was registered or uploaded. */
async function refusedSend(code: string, opts: Parameters<typeof sealpostAs>[3] = {}): Promise<string> {
  const before = await counts();
  const r = await send([], opts);
  expect(r.code, r.stderr).toBe(8);
  expect(r.stderr).toContain(`[${code}]`);
  expect(await counts()).toEqual(before);
  return r.stderr;
}

describe("agency-signed rosters", () => {
  test("an officer key is added with its fingerprint; the officer reviews and signs; the sender pins at first use", async () => {
    const lee = cert("tax-lee", "sign").sha256;
    const added = await ok("ops-wu", ["admin", "agency", "officer", "add", TAX, "--user", M.people["tax-lee"].email]);
    expect(added.stdout).toContain(`officer key SHA-256: ${lee}`);
    const signed = await ok("tax-lee", ["roster", "sign", "--agency", TAX, "--yes"]);
    for (const id of ["tax-wang", "tax-lee", "tax-chang"]) {
      expect(signed.stdout).toContain(`added:    ${M.people[id].name} <${M.people[id].email}>`);
    }
    expect(signed.stdout).toContain(`signed roster version 1 of ${TAX}`);
    const shown = await ok("soc-chen", ["--json", "roster", "show", TAX]);
    expect(shown.stderr).toContain(`pinned the roster officer key of ${TAX} at first use`);
    expect(shown.stderr).toContain(lee);
    expect(JSON.parse(shown.stdout).roster).toMatchObject({ version: 1, signer: { sha256: lee } });
    const pins = JSON.parse(readFileSync(join(relay.work, "home", "soc-chen", "rosters.json"), "utf8"));
    expect(pins.servers[relay.server.url][TAX]).toMatchObject({ officers: [lee], version: 1 });
    const r = await send();
    expect(r.code, r.stderr).toBe(0);
    expect(sentTo(r.stdout)).toEqual(emails("soc-chen", "tax-wang", "tax-lee", "tax-chang"));
    expect(JSON.parse(r.stdout).rosters).toContainEqual({
      agency: TAX,
      version: 1,
      officerSha256: lee,
      pinnedNow: false,
    });
  });

  test("a registry change stays pending roster signature; the relay does not seal to it until an officer signs", async () => {
    const admin = await clientAs(relay.server.url, "ops-wu");
    const chiu = M.people["tax-chiu"];
    await admin.addStaff({ body: { agency: TAX, name: chiu.name, email: chiu.email } });
    await admin.addCertificate({ body: { staff: chiu.email, pem: readFileSync(pki(chiu.encrypt.cert), "utf8") } });
    const shown = await ok("soc-chen", ["roster", "show", TAX]);
    expect(shown.stdout).toContain("pending roster signature (version 2):");
    expect(shown.stdout).toContain(`added:    ${chiu.name} <${chiu.email}>`);
    const before = await counts();
    const named = await send(["--to-user", chiu.email]);
    expect(named.code, named.stderr).toBe(12);
    expect(named.stderr).toContain("[NOT_ON_ROSTER]");
    expect(await counts()).toEqual(before);
    const r = await send();
    expect(r.code, r.stderr).toBe(0);
    expect(sentTo(r.stdout)).not.toContain(chiu.email);
    await ok("tax-lee", ["roster", "sign", "--agency", TAX, "--yes"]);
    const after = await send();
    expect(after.code, after.stderr).toBe(0);
    expect(sentTo(after.stdout)).toContain(chiu.email);
  });

  test("a certificate written straight into the database and its roster index (a compromised relay): exit 8, nothing registered or uploaded", async () => {
    const wang = await db
      .selectFrom("certificates")
      .selectAll()
      .where("sha256", "=", cert("tax-wang", "encrypt").sha256)
      .executeTakeFirstOrThrow();
    // Another person's encryption certificate, registered for tax-wang behind the registry's back.
    const rogue = cert("soc-lin", "encrypt");
    await db
      .insertInto("certificates")
      .values({
        ...wang,
        id: "rogue-cert",
        sha256: rogue.sha256,
        der: Buffer.from(rogue.der),
        subject: rogue.subject,
        common_name: rogue.commonName,
        issuer: rogue.issuer,
        serial_hex: rogue.serialHex,
        ski_hex: rogue.subjectKeyIdHex ?? null,
        not_before: rogue.notBefore.toISOString(),
        not_after: rogue.notAfter.toISOString(),
      })
      .execute();
    const { version } = await db
      .selectFrom("rosters")
      .select("version")
      .where("agency", "=", TAX)
      .orderBy("version", "desc")
      .executeTakeFirstOrThrow();
    await db
      .insertInto("roster_entries")
      .values({ agency: TAX, version, staff_id: wang.staff_id, cert_sha256: rogue.sha256 })
      .execute();
    try {
      const stderr = await refusedSend("NOT_ON_ROSTER");
      expect(stderr).toContain(rogue.sha256);
    } finally {
      await db.deleteFrom("roster_entries").where("cert_sha256", "=", rogue.sha256).execute();
      await db.deleteFrom("certificates").where("id", "=", "rogue-cert").execute();
    }
  });

  test("a new officer key is refused until trusted; a removed recipient is no longer sealed to", async () => {
    const wang = cert("tax-wang", "sign").sha256;
    await ok("ops-wu", ["admin", "agency", "officer", "add", TAX, "--user", M.people["tax-wang"].email]);
    await ok("ops-wu", ["admin", "user", "revoke", M.people["tax-chang"].email]);
    const signed = await ok("tax-wang", ["roster", "sign", "--agency", TAX, "--yes"]);
    expect(signed.stdout).toContain(`removed:  ${M.people["tax-chang"].name}`);
    const stderr = await refusedSend("OFFICER_NOT_PINNED");
    expect(stderr).toContain(`sealpost roster trust ${TAX} --fingerprint ${wang}`);
    await ok("soc-chen", ["roster", "trust", TAX, "--fingerprint", wang.toUpperCase().match(/../g)!.join(":")]);
    const r = await send();
    expect(r.code, r.stderr).toBe(0);
    expect(sentTo(r.stdout)).not.toContain(M.people["tax-chang"].email);
    expect(sentTo(r.stdout)).toContain(M.people["tax-wang"].email);
  });

  test("a removed recipient put back by the relay (staff row and roster index) is refused: exit 8", async () => {
    const chang = await db
      .selectFrom("staff")
      .select("id")
      .where("email", "=", M.people["tax-chang"].email)
      .executeTakeFirstOrThrow();
    const { version } = await db
      .selectFrom("rosters")
      .select("version")
      .where("agency", "=", TAX)
      .orderBy("version", "desc")
      .executeTakeFirstOrThrow();
    const sha = cert("tax-chang", "encrypt").sha256;
    await db.updateTable("staff").set({ active: 1 }).where("id", "=", chang.id).execute();
    await db
      .insertInto("roster_entries")
      .values({ agency: TAX, version, staff_id: chang.id, cert_sha256: sha })
      .execute();
    try {
      expect(await refusedSend("NOT_ON_ROSTER")).toContain(sha);
    } finally {
      await db.deleteFrom("roster_entries").where("cert_sha256", "=", sha).where("version", "=", version).execute();
      await db.updateTable("staff").set({ active: 0 }).where("id", "=", chang.id).execute();
    }
  });

  test("a roster version lower than one already seen is refused: exit 8", async () => {
    const latest = await db
      .selectFrom("rosters")
      .selectAll()
      .where("agency", "=", TAX)
      .orderBy("version", "desc")
      .executeTakeFirstOrThrow();
    const entries = await db
      .selectFrom("roster_entries")
      .selectAll()
      .where("agency", "=", TAX)
      .where("version", "=", latest.version)
      .execute();
    await db.deleteFrom("roster_entries").where("agency", "=", TAX).where("version", "=", latest.version).execute();
    await db.deleteFrom("rosters").where("agency", "=", TAX).where("version", "=", latest.version).execute();
    try {
      const stderr = await refusedSend("ROSTER_ROLLBACK");
      expect(stderr).toContain(`already saw version ${latest.version}`);
    } finally {
      await db.insertInto("rosters").values(latest).execute();
      await db.insertInto("roster_entries").values(entries).execute();
    }
    expect((await send()).code).toBe(0);
  });

  test("a revoked officer certificate makes the roster unusable: exit 8", async () => {
    const now = Date.now();
    const crl = issueTestCrl({
      dir: join(relay.work, "crl"),
      name: "gca-officer-revoked",
      thisUpdate: new Date(now - 3600_000),
      nextUpdate: new Date(now + 7 * 86400_000),
      number: 0x7f01,
      revoke: [pki(M.people["tax-wang"].sign.cert)],
    });
    const stderr = await refusedSend("ROSTER_UNTRUSTED", {
      config: { crls: [crl, pki(M.root.crl)] },
    });
    expect(stderr).toMatch(/revoked/i);
  });

  test("reply seals only to the sending agency's roster: a certificate the relay adds for the sender is refused, exit 8", async () => {
    await ok("ops-wu", ["admin", "agency", "officer", "add", "KHH-SOC", "--user", M.people["soc-chen"].email]);
    await ok("soc-chen", ["roster", "sign", "--agency", "KHH-SOC", "--yes"]);
    const sent = await send();
    expect(sent.code, sent.stderr).toBe(0);
    const id = JSON.parse(sent.stdout).case.id as string;
    await ok("tax-wang", ["receive", id, "-o", join(relay.work, "inbox")]);
    const chen = await db
      .selectFrom("certificates")
      .selectAll()
      .where("sha256", "=", cert("soc-chen", "encrypt").sha256)
      .executeTakeFirstOrThrow();
    const rogue = cert("soc-lin", "encrypt");
    await db
      .insertInto("certificates")
      .values({
        ...chen,
        id: "rogue-sender-cert",
        sha256: rogue.sha256,
        der: Buffer.from(rogue.der),
        subject: rogue.subject,
        common_name: rogue.commonName,
        issuer: rogue.issuer,
        serial_hex: rogue.serialHex,
        ski_hex: rogue.subjectKeyIdHex ?? null,
      })
      .execute();
    await db
      .insertInto("roster_entries")
      .values({ agency: "KHH-SOC", version: 1, staff_id: chen.staff_id, cert_sha256: rogue.sha256 })
      .execute();
    const result = join(relay.work, "result.csv");
    writeFileSync(result, "seq,match\n1,Y\n");
    try {
      const r = await sp("tax-wang", ["reply", id, result]);
      expect(r.code, r.stderr).toBe(8);
      expect(r.stderr).toContain("[NOT_ON_ROSTER]");
      expect(r.stderr).toContain(rogue.sha256);
      const c = await db.selectFrom("cases").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      expect(c.state).toBe("received");
      expect(c.result_sha256).toBeNull();
    } finally {
      await db.deleteFrom("roster_entries").where("cert_sha256", "=", rogue.sha256).execute();
      await db.deleteFrom("certificates").where("id", "=", "rogue-sender-cert").execute();
    }
    await ok("tax-wang", ["reply", id, result]);
  });
});

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { M, pki, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * The remote commands through the real `sealpost` binary (spawned) against a server started in-process on a
 * loopback port: login (signed challenge, session file 0600), admin registry, send, cases, receive, note, reply,
 * result, receipt, cancel, and the exit codes of refusals.
 */

let relay: TestRelay;
let work: string;

beforeAll(async () => {
  relay = await startRelay("sealpost-remote-", { adminName: true });
  work = relay.work;
});
afterAll(async () => {
  await relay?.close();
});

/** Runs `sealpost` as a fixture person (own config folder, PIN from SEALPOST_PIN). */
const sp = (id: string, args: string[]) => sealpostAs(relay, id, args);

const ok = async (id: string, args: string[]) => {
  const r = await sp(id, args);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
};

describe("sealpost remote commands", () => {
  test("not logged in: exit 11 with a hint", async () => {
    const r = await sp("soc-chen", ["cases"]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain("sealpost: hint: Run: sealpost login");
  });

  test("admin registers the registry; the round trip runs through the CLI; refusals have their exit codes", async () => {
    await ok("ops-wu", ["login"]);
    const session = join(work, "home", "ops-wu", "session.json");
    expect(statSync(session).mode & 0o777).toBe(0o600);
    expect(readFileSync(session, "utf8")).not.toContain(M.people["ops-wu"].pin);
    for (const code of ["KHH-SOC", "KHH-TAX"]) {
      await ok("ops-wu", [
        "admin",
        "agency",
        "add",
        code,
        "--name",
        M.agencies[code].name,
        "--email",
        M.agencies[code].email,
      ]);
    }
    for (const id of ["soc-chen", "tax-wang", "tax-lee"]) {
      const p = M.people[id];
      await ok("ops-wu", ["admin", "user", "add", "--agency", p.agency, "--name", p.name, "--email", p.email]);
      await ok("ops-wu", ["admin", "cert", "add", pki(p.sign.cert), "--user", p.email]);
      await ok("ops-wu", ["admin", "cert", "add", pki(p.encrypt.cert), "--user", p.email]);
    }
    // A revoked certificate (fixture CRL) is refused at registration: exit 8.
    const revoked = await sp("ops-wu", [
      "admin",
      "cert",
      "add",
      pki("troubled/revoked/cert.pem"),
      "--user",
      M.people["tax-lee"].email,
    ]);
    expect(revoked.code, revoked.stderr).toBe(8);
    expect(revoked.stderr).toContain("[CERT_REJECTED]");
    await ok("ops-wu", ["admin", "category", "add", "WELFARE-TAX", "--name", "財稅查調", "--purpose", "test purpose"]);
    // Staff may not manage the registry: exit 11.
    await ok("soc-chen", ["login"]);
    expect((await sp("soc-chen", ["admin", "agency", "list"])).code).toBe(11);

    const batch = join(work, "batch.csv");
    writeFileSync(batch, "seq,name\n1,王小明\n2,陳大文\n");
    const sent = JSON.parse(
      (
        await ok("soc-chen", [
          "--json",
          "send",
          batch,
          "--to-agency",
          "KHH-TAX",
          "--category",
          "WELFARE-TAX",
          "--records",
          "2",
          "--upload-no",
          "T-1",
          "--to-user",
          M.people["tax-wang"].email,
        ])
      ).stdout,
    );
    const id = sent.case.id as string;
    expect(sent.case.state).toBe("sent");
    expect(sent.recipients.map((r: { email: string }) => r.email).sort()).toEqual(
      [M.people["soc-chen"].email, M.people["tax-wang"].email].sort(),
    );
    // Unknown category: refused by the server, exit 12.
    expect(
      (
        await sp("soc-chen", [
          "send",
          batch,
          "--to-agency",
          "KHH-TAX",
          "--category",
          "NOPE",
          "--records",
          "2",
          "--upload-no",
          "x",
        ])
      ).code,
    ).toBe(12);

    await ok("tax-wang", ["login"]);
    const inbox = await ok("tax-wang", ["--json", "cases", "--inbox"]);
    expect(JSON.parse(inbox.stdout).cases.map((c: { id: string }) => c.id)).toEqual([id]);
    // tax-lee is not a chosen receiver: the server does not let her download the payload (403, exit 11), and the
    // case is not marked received.
    await ok("tax-lee", ["login"]);
    const lee = await sp("tax-lee", ["receive", id, "-o", join(work, "lee")]);
    expect(lee.code).toBe(11);
    expect(lee.stderr).toMatch(/named on case/);
    expect(JSON.parse((await ok("tax-wang", ["--json", "case", "show", id])).stdout).case.state).toBe("sent");
    const got = JSON.parse((await ok("tax-wang", ["--json", "receive", id, "-o", join(work, "in")])).stdout);
    expect(readFileSync(got.file, "utf8")).toBe(readFileSync(batch, "utf8"));
    expect(got.signer.commonName).toBe(M.people["soc-chen"].name);
    await ok("tax-wang", ["note", id, "處理中"]);
    const result = join(work, "result.csv");
    writeFileSync(result, "seq,match\n1,Y\n2,N\n");
    await ok("tax-wang", ["reply", id, result, "--note", "done"]);
    // The receiver cannot cancel, and a processed case cannot be cancelled: exit 11 / 12.
    expect((await sp("tax-wang", ["cancel", id])).code).toBe(11);
    expect((await sp("soc-chen", ["cancel", id])).code).toBe(12);
    const back = JSON.parse((await ok("soc-chen", ["--json", "result", id, "-o", join(work, "out")])).stdout);
    expect(readFileSync(back.file, "utf8")).toBe(readFileSync(result, "utf8"));
    const receipts = JSON.parse((await ok("soc-chen", ["--json", "receipt", id])).stdout).receipts;
    expect(
      receipts.map((r: { statement: { kind: string }; signatureValid: boolean }) => [
        r.statement.kind,
        r.signatureValid,
      ]),
    ).toEqual([
      ["payload", true],
      ["result", true],
    ]);
    const shown = await ok("soc-chen", ["case", "show", id]);
    expect(shown.stdout).toContain("result_received 結果檔已接收");
    expect(shown.stdout).toContain("處理中");

    await ok("soc-chen", ["logout"]);
    expect((await sp("soc-chen", ["cases"])).code).toBe(11);
  }, 300_000); // about 40 CLI runs: slow on a loaded 2-core machine
});

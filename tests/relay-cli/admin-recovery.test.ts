import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  clientAs,
  M,
  pki,
  registerFixtureRegistry,
  repoRoot,
  sealpostAs,
  startRelay,
  type TestRelay,
} from "../helpers/relay.js";

/**
 * An admin cannot lock themselves out by an allow-list (409 unless --force), and the operator recovers on the data
 * folder with `sealpost-server admin add-admin|reset-allow-list|revoke-tokens` (no network, no login), each audited.
 * Real relay on a loopback port (the data folder shared with the spawned `sealpost-server`), the real `sealpost`.
 */

const SERVER_BIN = join(repoRoot, "server/bin/sealpost-server.js");
const OPS = M.people["ops-wu"].agency as string;
let relay: TestRelay;
let data: string;

const server = (...args: string[]) => spawnSync(process.execPath, [SERVER_BIN, ...args], { encoding: "utf8" });
const allowListOf = async (code: string) =>
  (await (await clientAs(relay.server.url, "ops-wu")).listAgencies()).find((a) => a.code === code)?.allowCidrs;

beforeAll(async () => {
  relay = await startRelay("sealpost-admin-recovery-");
  data = join(relay.work, "data");
  await registerFixtureRegistry(relay.server.url);
  for (const id of ["ops-wu", "soc-chen"]) expect((await sealpostAs(relay, id, ["login"])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

describe("allow-list lockout", () => {
  test("an allow-list of your own agency without your address is refused (409, exit 12) and changes nothing", async () => {
    const r = await sealpostAs(relay, "ops-wu", ["admin", "agency", "allow", OPS, "10.99.0.0/16"]);
    expect(r.code, r.stderr).toBe(12);
    expect(r.stderr).toContain("[CONFLICT]");
    expect(r.stderr).toMatch(/would lock you out: you act from 127\.0\.0\.1/);
    expect(r.stderr).toMatch(/hint: .*--force.*sealpost-server admin reset-allow-list/);
    expect(await allowListOf(OPS)).toEqual([]);
    // With the admin's own address in the list it is applied; another agency's list is not the admin's concern.
    const own = await sealpostAs(relay, "ops-wu", ["admin", "agency", "allow", OPS, "10.99.0.0/16", "127.0.0.1/32"]);
    expect(own.code, own.stderr).toBe(0);
    expect(await allowListOf(OPS)).toEqual(["10.99.0.0/16", "127.0.0.1/32"]);
    const other = await sealpostAs(relay, "ops-wu", ["admin", "agency", "allow", "KHH-TAX", "10.99.0.0/16"]);
    expect(other.code, other.stderr).toBe(0);
    for (const code of [OPS, "KHH-TAX"]) {
      expect((await sealpostAs(relay, "ops-wu", ["admin", "agency", "allow", code])).code).toBe(0);
    }
  });

  test("--force locks the admin out; sealpost-server admin reset-allow-list lets them in again, audited", async () => {
    const forced = await sealpostAs(relay, "ops-wu", ["admin", "agency", "allow", OPS, "10.99.0.0/16", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    const locked = await sealpostAs(relay, "ops-wu", ["admin", "agency", "list"]);
    expect(locked.code).toBe(11);
    expect(locked.stderr).toContain("SOURCE_NOT_ALLOWED");

    const reset = server("admin", "reset-allow-list", "--data", data, OPS);
    expect(reset.status, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`agency ${OPS}: allow-list cleared (was 10.99.0.0/16)`);
    const back = await sealpostAs(relay, "ops-wu", ["admin", "agency", "list"]);
    expect(back.code, back.stderr).toBe(0);

    const missing = server("admin", "reset-allow-list", "--data", data, "NO-SUCH");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^sealpost-server: error: No agency with code NO-SUCH/);
  });
});

describe("sealpost-server admin", () => {
  test("add-admin registers an admin who can log in and administer; a second time is refused", async () => {
    const liu = M.people["ops-liu"];
    const args = ["admin", "add-admin", "--data", data, "--agency", OPS, "--email", liu.email, "--name", liu.name];
    const r = server(...args, "--cert", pki(liu.sign.cert));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`added admin ${liu.name} <${liu.email}>`);
    const login = await sealpostAs(relay, "ops-liu", ["--json", "login"]);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout).staff).toMatchObject({ email: liu.email, role: "admin", agency: OPS });
    expect((await sealpostAs(relay, "ops-liu", ["admin", "agency", "list"])).code).toBe(0);

    const again = server(...args, "--cert", pki(liu.sign.cert));
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/^sealpost-server: error: /);
    // A certificate the trust anchors do not vouch for (a CA certificate is no person's signing certificate)
    // registers nobody.
    const pan = M.people["ops-pan"];
    const bad = server(
      "admin",
      "add-admin",
      "--data",
      data,
      "--agency",
      OPS,
      "--email",
      pan.email,
      "--cert",
      pki(M.intermediate.cert),
    );
    expect(bad.status).toBe(2);
    const staff = await (await clientAs(relay.server.url, "ops-wu")).listStaff({ query: {} });
    expect(staff.map((s) => s.email)).not.toContain(pan.email);
  });

  test("revoke-tokens ends the logins of one staff member, then of everyone", async () => {
    const usage = server("admin", "revoke-tokens", "--data", data);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("--staff EMAIL, --agency CODE or --all");

    const one = server("admin", "revoke-tokens", "--data", data, "--staff", M.people["soc-chen"].email);
    expect(one.status, one.stderr).toBe(0);
    expect((await sealpostAs(relay, "soc-chen", ["cases"])).code).toBe(11);
    expect((await sealpostAs(relay, "ops-wu", ["admin", "agency", "list"])).code).toBe(0);

    const all = server("admin", "revoke-tokens", "--data", data, "--all");
    expect(all.status, all.stderr).toBe(0);
    expect((await sealpostAs(relay, "ops-wu", ["admin", "agency", "list"])).code).toBe(11);
    expect((await sealpostAs(relay, "ops-wu", ["login"])).code).toBe(0);
  });

  test("each local command is in the audit trail with the command and the operating-system user", () => {
    const out = server("audit", "export", "--data", data);
    expect(out.status, out.stderr).toBe(0);
    const local = out.stdout
      .trim()
      .split("\n")
      // sealpost-audit-export/1: a header line, then each entry with its inclusion proof, then the earlier heads.
      .map((l) => JSON.parse(l).entry)
      .filter((e) => e?.action === "admin.local");
    expect(local.map((e) => e.detail.command)).toEqual([
      "reset-allow-list",
      "add-admin",
      "revoke-tokens",
      "revoke-tokens",
    ]);
    for (const e of local) {
      expect(e.actor).toBe("local-admin");
      expect(typeof e.detail.osUser).toBe("string");
    }
    expect(local[0].detail).toMatchObject({ agency: OPS, before: ["10.99.0.0/16"] });
    expect(local.slice(2).map((e) => e.detail.scope)).toEqual([`staff ${M.people["soc-chen"].email}`, "all"]);
    const verify = server("audit", "verify", "--data", data);
    expect(verify.status, verify.stderr).toBe(0);
  });
});

test("admin cert revoke accepts the short id that admin cert list prints", async () => {
  const list = await sealpostAs(relay, "ops-wu", ["admin", "cert", "list", "--user", M.people["tax-wang"].email]);
  expect(list.code, list.stderr).toBe(0);
  const line = list.stdout.split("\n").find((l) => /\ssign\s/.test(l));
  const short = line?.split(/\s+/)[0] as string;
  expect(short).toMatch(/^[0-9a-f]{16}$/);
  const r = await sealpostAs(relay, "ops-wu", ["--json", "admin", "cert", "revoke", short, "--reason", "card lost"]);
  expect(r.code, r.stderr).toBe(0);
  const revoked = JSON.parse(r.stdout).certificate;
  expect(revoked.sha256.startsWith(short)).toBe(true);
  expect(revoked.status).toBe("revoked");
  const none = await sealpostAs(relay, "ops-wu", ["admin", "cert", "revoke", "0000000000000000"]);
  expect(none.code).toBe(12);
  expect(none.stderr).toContain("NOT_FOUND");
});

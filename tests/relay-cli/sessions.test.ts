import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { M, pki, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * Logins are kept per config file and per server URL: two people's config files in one folder act as their own
 * people; a config that names another server than the login is an error naming both; logout of an expired login
 * exits 0. Real relay on a loopback port, the real `sealpost` binary with --config (no SEALPOST_CONFIG).
 */

let relay: TestRelay;
let shared: string;
let xdg: string;
const cfg = (id: string) => join(shared, `${id}.json`);

function writeConfig(id: string, server: string): void {
  writeFileSync(
    cfg(id),
    JSON.stringify({
      server,
      trust: [pki(M.root.cert)],
      intermediates: [pki(M.intermediate.cert)],
      crls: [pki(M.intermediate.crl), pki(M.root.crl)],
      keystore: pki(M.people[id].p12),
    }),
  );
}

/** `sealpost --config <shared>/<id>.json ARGS` with the person's PIN; no SEALPOST_CONFIG, a private XDG folder. */
const as = (id: string, args: string[]) =>
  sealpostAs(relay, id, ["--config", cfg(id), ...args], { env: { SEALPOST_CONFIG: "", XDG_CONFIG_HOME: xdg } });

beforeAll(async () => {
  relay = await startRelay("sealpost-sessions-");
  await registerFixtureRegistry(relay.server.url);
  shared = join(relay.work, "shared");
  xdg = join(relay.work, "xdg");
  mkdirSync(shared, { recursive: true });
  for (const id of ["soc-chen", "tax-wang"]) writeConfig(id, relay.server.url);
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

test("two config files in one folder: each acts with its own login", async () => {
  for (const id of ["soc-chen", "tax-wang"]) {
    const r = await as(id, ["--json", "login"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).session).toBe(join(shared, `${id}.session.json`));
  }
  for (const id of ["soc-chen", "tax-wang"]) {
    expect(statSync(join(shared, `${id}.session.json`)).mode & 0o777).toBe(0o600);
  }
  expect(existsSync(join(xdg, "sealpost", "session.json"))).toBe(false);
  const batch = join(relay.work, "batch.csv");
  writeFileSync(batch, "id,name\n1,王小明\n");
  const send = await as("soc-chen", [
    "--json",
    "send",
    batch,
    "--to-agency",
    "KHH-TAX",
    "--category",
    "C",
    "--records",
    "1",
    "--upload-no",
    "S-1",
  ]);
  expect(send.code, send.stderr).toBe(0);
  const id = JSON.parse(send.stdout).case.id;
  const ids = async (who: string, box: string) =>
    JSON.parse((await as(who, ["--json", "cases", box])).stdout).cases.map((c: { id: string }) => c.id);
  expect(await ids("soc-chen", "--outbox")).toEqual([id]);
  expect(await ids("tax-wang", "--outbox")).toEqual([]);
  expect(await ids("tax-wang", "--inbox")).toEqual([id]);
});

test("a config that names another server than the login: an error naming both, exit 11", async () => {
  const elsewhere = relay.server.url.replace("127.0.0.1", "localhost");
  writeConfig("soc-chen", elsewhere);
  try {
    const r = await as("soc-chen", ["cases"]);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toContain("[SESSION_SERVER_MISMATCH]");
    expect(r.stderr).toContain(`names the server ${elsewhere}`);
    expect(r.stderr).toContain(`your login is for ${relay.server.url}`);
    expect(r.stderr).toMatch(/hint: Log in to .*or set "server" in .*soc-chen\.json/);
  } finally {
    writeConfig("soc-chen", relay.server.url);
  }
  // login --server other than the config's: it warns that the other commands use the config's server.
  const login = await as("soc-chen", ["login", "--server", elsewhere]);
  expect(login.code, login.stderr).toBe(0);
  expect(login.stderr).toMatch(/warning: the config file .*soc-chen\.json names the server/);
  const still = await as("soc-chen", ["cases"]);
  expect(still.code, still.stderr).toBe(0);
  const file = JSON.parse(readFileSync(join(shared, "soc-chen.session.json"), "utf8"));
  expect(Object.keys(file.logins).sort()).toEqual([relay.server.url, elsewhere].sort());
});

test("logout of an expired login exits 0 and forgets it; logout when logged out exits 0", async () => {
  const path = join(shared, "tax-wang.session.json");
  const file = JSON.parse(readFileSync(path, "utf8"));
  file.logins[relay.server.url].expiresAt = new Date(Date.now() - 60_000).toISOString();
  writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
  const expired = await as("tax-wang", ["cases"]);
  expect(expired.code).toBe(11);
  expect(expired.stderr).toContain("has expired");
  const out = await as("tax-wang", ["logout"]);
  expect(out.code, out.stderr).toBe(0);
  expect(out.stdout).toContain("the login had expired");
  expect(existsSync(path)).toBe(false);
  const again = await as("tax-wang", ["--json", "logout"]);
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, wasLoggedIn: false });
});

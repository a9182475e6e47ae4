import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:https";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, test } from "vitest";
import { MANIFEST, person, pkiPath, REPO } from "./helpers.js";

/** `sealpost-server init|start|status` as a user runs them. */

const BIN = join(REPO, "server/bin/sealpost-server.js");
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
let work: string;
let data: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "sealpost-server-cli-"));
  data = join(work, "data");
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const initArgs = () => [
  "init",
  "--data",
  data,
  "--trust",
  pkiPath(MANIFEST.root.cert),
  "--intermediates",
  pkiPath(MANIFEST.intermediate.cert),
  "--crl",
  pkiPath(MANIFEST.intermediate.crl),
  "--crl",
  pkiPath(MANIFEST.root.crl),
  "--admin-cert",
  pkiPath(person("ops-wu").sign.cert),
  "--admin-email",
  person("ops-wu").email,
  "--admin-agency",
  "SEALPOST-OPS",
];

test("init creates the database, store, config and first admin; a second init is refused", () => {
  const r = run(...initArgs());
  expect(r.status, r.stderr).toBe(0);
  for (const f of ["sealpost.db", "config.json", "files", "tmp", "trust/anchors.pem"])
    expect(statSync(join(data, f))).toBeTruthy();
  const cfg = JSON.parse(readFileSync(join(data, "config.json"), "utf8"));
  expect(cfg.trust.revocation).toBe("require");
  expect(cfg.listen).toBe("127.0.0.1:8443");
  const again = run(...initArgs());
  expect(again.status).toBe(2);
  expect(again.stderr).toContain("already exists");
  const status = run("status", "--data", data, "--json");
  expect(status.status, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout).mail.counts).toMatchObject({ queued: 0, failed: 0 });
});

test("init refuses an admin certificate that does not chain to the given anchor", () => {
  const other = join(work, "data2");
  const r = run(
    "init",
    "--data",
    other,
    "--trust",
    pkiPath(person("soc-chen").sign.cert),
    "--admin-cert",
    pkiPath(person("ops-wu").sign.cert),
  );
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/sealpost-server: error: Certificate of 吳承翰/);
  // Nothing half-made is left behind: not even the folder init created.
  expect(existsSync(other)).toBe(false);
});

/** The failure as a user sees it: one error line and a hint, no stack trace, no raw errno text. */
function expectClearError(r: { status: number | null; stderr: string }, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^sealpost-server: error: /);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/\nsealpost-server: hint: \S/);
  expect(r.stderr).not.toMatch(/\n\s+at |ENOENT:|EEXIST:|EADDRINUSE:/);
}

test("usage errors exit 2; --version prints the package version", () => {
  const version = JSON.parse(readFileSync(join(REPO, "server/package.json"), "utf8")).version;
  const v = run("--version");
  expect(v.status).toBe(0);
  expect(v.stdout.trim()).toBe(version);
  const help = run("--help");
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("Usage: sealpost-server");
  for (const args of [["bogus"], ["start"], ["start", "--data", data, "--no-such-option"], ["audit", "export"], []]) {
    const r = run(...args);
    expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    if (args.length) expect(r.stderr).toMatch(/^sealpost-server: error: /);
  }
});

test("a missing data folder, a missing TLS file and an existing export file: error and hint, exit 2", () => {
  expectClearError(run("start", "--data", join(work, "nowhere")), /There is no data folder at .*nowhere/);
  expectClearError(run("status", "--data", join(work, "nowhere")), /There is no data folder/);
  expectClearError(
    run(
      "start",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      "--tls-cert",
      join(work, "no-cert.pem"),
      "--tls-key",
      join(work, "no-key.pem"),
    ),
    /Cannot read the TLS file .*no-cert\.pem \(no such file\)/,
  );
  const out = join(work, "audit.jsonl");
  writeFileSync(out, "keep me\n");
  expectClearError(run("audit", "export", "--data", data, "-o", out), /audit\.jsonl already exists/);
  expect(readFileSync(out, "utf8")).toBe("keep me\n");
  const fresh = join(work, "audit-new.jsonl");
  const ok = run("audit", "export", "--data", data, "-o", fresh);
  expect(ok.status, ok.stderr).toBe(0);
  expect(readFileSync(fresh, "utf8")).toMatch(/"action":"agency.add"/);
});

test("a failed init leaves nothing behind: missing input file, untrusted admin certificate, inside an existing folder", () => {
  const missing = join(work, "data-missing");
  expectClearError(
    run(
      "init",
      "--data",
      missing,
      "--trust",
      join(work, "no-root.pem"),
      "--admin-cert",
      pkiPath(person("ops-wu").sign.cert),
    ),
    /Cannot read --trust .*no-root\.pem \(no such file\)/,
  );
  expect(existsSync(missing)).toBe(false);
  // An existing folder keeps what it had, and only that.
  const existing = join(work, "data-existing");
  mkdirSync(existing);
  writeFileSync(join(existing, "notes.txt"), "mine\n");
  const r = run(
    "init",
    "--data",
    existing,
    "--trust",
    pkiPath(MANIFEST.root.cert),
    "--intermediates",
    pkiPath(MANIFEST.intermediate.cert),
    "--crl",
    pkiPath(MANIFEST.intermediate.crl),
    "--crl",
    pkiPath(MANIFEST.root.crl),
    // A CA certificate is no signing certificate of a person.
    "--admin-cert",
    pkiPath(MANIFEST.intermediate.cert),
  );
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^sealpost-server: error: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(readdirSync(existing)).toEqual(["notes.txt"]);
});

test("start on an address in use: error and hint, exit 2", async () => {
  const blocker = createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  const { port } = blocker.address() as AddressInfo;
  try {
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, "start", "--data", data, "--listen", `127.0.0.1:${port}`], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (status) => resolve({ status, stderr }));
    });
    // The log lines before it (JSON) are the server's start-up log; the failure is in words.
    const words = r.stderr
      .split("\n")
      .filter((l) => !l.startsWith("{"))
      .join("\n");
    expectClearError(
      { status: r.status, stderr: words },
      new RegExp(`The address 127\\.0\\.0\\.1:${port} is already in use`),
    );
  } finally {
    blocker.close();
  }
});

test("start refuses a non-loopback address without TLS", () => {
  const r = run("start", "--data", data, "--listen", "0.0.0.0:0");
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("Refusing to listen on 0.0.0.0 without TLS");
  expect(r.stderr).toContain("hint:");
});

test("start refuses a non-loopback address without a public URL, also with TLS; config --public-url sets it", () => {
  const tls = ["--tls-cert", pkiPath(person("ops-liu").sign.cert), "--tls-key", pkiPath(person("ops-liu").sign.key)];
  const r = run("start", "--data", data, "--listen", "0.0.0.0:0", ...tls);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("Refusing to listen on 0.0.0.0 without a public URL");
  expect(r.stderr).toMatch(/hint: .*sealpost-server config --data DIR --public-url/);
  for (const bad of ["http://sealpost.example.gov.tw", "https://sealpost.example.gov.tw/login?x=1", "not a url"]) {
    const c = run("config", "--data", data, "--public-url", bad);
    expect(c.status, bad).toBe(2);
    expect(c.stderr, bad).toMatch(/sealpost-server: error: The public URL/);
  }
  expect(JSON.parse(readFileSync(join(data, "config.json"), "utf8")).publicUrl).toBeUndefined();
  const ok = run("config", "--data", data, "--public-url", "https://sealpost.example.gov.tw:8443/");
  expect(ok.status, ok.stderr).toBe(0);
  expect(ok.stdout).toContain("public URL set to https://sealpost.example.gov.tw:8443");
  const cfg = JSON.parse(readFileSync(join(data, "config.json"), "utf8"));
  expect(cfg.publicUrl).toBe("https://sealpost.example.gov.tw:8443");
  expect(cfg.trust.revocation).toBe("require");
  expect(statSync(join(data, "config.json")).mode & 0o777).toBe(0o600);
});

test("init refuses a non-loopback --listen without --public-url and leaves nothing; with it, config holds it", () => {
  const other = join(work, "data-public");
  const args = initArgs().map((a) => (a === data ? other : a));
  const refused = run(...args, "--listen", "0.0.0.0:8443");
  expect(refused.status).toBe(2);
  expect(refused.stderr).toContain("needs --public-url");
  expect(readdirSync(work)).not.toContain("data-public");
  const ok = run(...args, "--listen", "0.0.0.0:8443", "--public-url", "https://sealpost.example.gov.tw");
  expect(ok.status, ok.stderr).toBe(0);
  // The admin is named from the certificate (its CN), as registration binds the certificate to that name.
  expect(ok.stdout).toContain(`admin ${person("ops-wu").email}`);
  expect(ok.stdout).toContain("public URL https://sealpost.example.gov.tw");
  expect(JSON.parse(readFileSync(join(other, "config.json"), "utf8")).publicUrl).toBe(
    "https://sealpost.example.gov.tw",
  );
});

test("start with --tls-cert/--tls-key serves HTTPS", async () => {
  // Any certificate and key do for the listener; the client below pins nothing and only checks the protocol.
  const child = spawn(
    process.execPath,
    [
      BIN,
      "start",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      "--tls-cert",
      pkiPath(person("ops-liu").sign.cert),
      "--tls-key",
      pkiPath(person("ops-liu").sign.key),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    child.stderr.resume();
    const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    const url = /listening on (https:\/\/\S+)/.exec(line)?.[1];
    expect(url, line).toBeDefined();
    expect(line).not.toContain("no TLS");
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        request(`${url}${path}`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      });
    expect(await status("/v1/auth/whoami")).toBe(401);
    // The drop routes are served by the real binary under plain Node (not only under vitest's module loader).
    expect(await status("/v1/drops")).toBe(401);
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
});

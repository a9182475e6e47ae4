import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CRL_FETCH_LIMITS, parseCertificate } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueTestCrl } from "../../tests/helpers/issue-cert.js";
import { serverStatus } from "../src/commands/status.js";
import { configPath } from "../src/config.js";
import { silentLogger } from "../src/log.js";
import { type RunningServer, startServer } from "../src/server.js";
import { Api, initFixtureDataDir, MANIFEST, person, pkiPath, registerFixtures } from "./helpers.js";

/**
 * The relay keeps its CRLs current: from its CRL folder and from the distribution points (a real HTTP server here,
 * reached through the `rewrite` of the fixtures' http://127.0.0.1:18080/ URLs), with its state in `status` and an
 * e-mail to ops before a CRL goes stale. The relay's clock is moved by the test; the CRLs are made on the spot
 * with the committed throwaway CA keys, dated around the real time.
 */
const H = 3600_000;
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
let clock = T0;
const at = (hours: number) => new Date(T0.getTime() + hours * H);

const work = mkdtempSync(join(tmpdir(), "sealpost-crl-refresh-"));
const data = join(work, "data");
const crlDir = join(work, "crls");
let dp: Server;
let serve: { status: number; body: Buffer } = { status: 404, body: Buffer.alloc(0) };
let requests = 0;
let server: RunningServer;
const wangEnc = parseCertificate(readFileSync(pkiPath(person("tax-wang").encrypt.cert), "utf8"));

const gcaCrl = (name: string, thisUpdate: Date, nextUpdate: Date, number: number) =>
  readFileSync(issueTestCrl({ dir: work, name, thisUpdate, nextUpdate, number }));

const mails = () =>
  server.ctx.db
    .prepare("SELECT kind, recipients, subject, body FROM mail_outbox WHERE kind LIKE 'crl.%' ORDER BY id")
    .all() as {
    kind: string;
    recipients: string;
    subject: string;
    body: string;
  }[];
const gcaStatus = () => {
  const s = serverStatus(server.ctx.db, { retentionDays: 30, now: clock });
  return { s, gca: s.crls.issuers.find((i) => i.issuer.includes("GCA"))! };
};

beforeAll(async () => {
  dp = createServer((req, res) => {
    requests++;
    if (req.url === "/crl/gca.crl") {
      res.writeHead(serve.status, { "content-type": "application/pkix-crl" });
      res.end(serve.body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => dp.listen(0, "127.0.0.1", r));
  const port = (dp.address() as AddressInfo).port;
  serve = { status: 200, body: gcaCrl("a", at(-1), at(48), 0x10) };
  // The folder holds the root's CRL; the GCA's comes from its distribution point.
  mkdirSync(crlDir);
  copyFileSync(pkiPath(MANIFEST.root.crl), join(crlDir, "grca.crl.pem"));
  await initFixtureDataDir(data, {
    crl: [],
    crlDir,
    revocation: "prefer", // init cannot fetch; the server then runs with "require"
  });

  const config = JSON.parse(readFileSync(configPath(data), "utf8"));
  config.trust.revocation = "require";
  config.crlRefresh = { intervalMs: 0, rewrite: { "http://127.0.0.1:18080/": `http://127.0.0.1:${port}/` } };
  writeFileSync(configPath(data), JSON.stringify(config));
  server = await startServer(data, { listen: "127.0.0.1:0", log: silentLogger, now: () => clock });
  await server.refreshCrls();
  const a = new Api(server.url);
  await a.login("ops-wu");
  await registerFixtures(a); // every registered certificate is validated with the fetched GCA CRL
});
afterAll(async () => {
  await server?.close();
  await new Promise((r) => dp?.close(r));
  rmSync(work, { recursive: true, force: true });
});

describe("CRL refresh", () => {
  it("fetches the GCA CRL from its distribution point with the CLI's limits; status shows it current", async () => {
    expect(server.ctx.crls.limits).toEqual(CRL_FETCH_LIMITS);
    expect(requests).toBeGreaterThan(0);
    const { s, gca } = gcaStatus();
    expect(gca).toMatchObject({ state: "ok", nextUpdate: at(48).toISOString(), crlNumber: "16" });
    expect(gca.sources[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/crl\/gca\.crl$/);
    expect(s.crls.warnings).toEqual([]);
    // The GCA certificate names the root's distribution point, which this test server does not serve: noted, not
    // a warning, since the folder holds the root's CRL.
    expect(s.crls.sourceErrors.join()).toMatch(/grca\.crl .*HTTP 404/);
    await expect(server.ctx.trust.validate(wangEnc, { purpose: "encrypt" })).resolves.toMatchObject({
      revocation: { source: "crl" },
    });
    expect(mails()).toEqual([]);
  });

  it("24 hours before nextUpdate: status warns and ops get one e-mail (not one per run)", async () => {
    clock = at(30);
    const r = await server.refreshCrls();
    expect(r.warned).toBe(1);
    const { s, gca } = gcaStatus();
    expect(gca.state).toBe("stale-soon");
    expect(s.crls.warnings.join("\n")).toMatch(/GCA.*goes stale at/);
    await server.refreshCrls();
    const m = mails();
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ kind: "crl.stale_soon" });
    expect(JSON.parse(m[0]!.recipients)).toEqual([person("ops-liu").email]); // the active ops staff
    expect(m[0]!.subject).toMatch(/CRL goes stale at/);
  });

  it("a newer CRL published at the distribution point is taken at the next run and used by the trust policy", async () => {
    serve = { status: 200, body: gcaCrl("b", at(29), at(96), 0x11) };
    await server.refreshCrls();
    const { gca } = gcaStatus();
    expect(gca).toMatchObject({ state: "ok", nextUpdate: at(96).toISOString(), crlNumber: "17" });
    const v = await server.ctx.trust.validate(wangEnc, { purpose: "encrypt" });
    expect(v.revocation?.thisUpdate?.toISOString()).toBe(at(29).toISOString());
    expect(mails()).toHaveLength(1);
  });

  it("past nextUpdate with the distribution point down: stale in status with the error, an e-mail, and fail closed", async () => {
    clock = at(100);
    serve = { status: 500, body: Buffer.alloc(0) };
    const r = await server.refreshCrls();
    expect(r.failed.map((f) => f.error).join()).toMatch(/HTTP 500/);
    const { s, gca } = gcaStatus();
    expect(gca.state).toBe("stale");
    expect(gca.errors.join()).toMatch(/HTTP 500/);
    expect(s.crls.warnings.join("\n")).toMatch(/stale since .*HTTP 500/);
    expect(mails().map((m) => m.kind)).toEqual(["crl.stale_soon", "crl.stale"]);
    await expect(server.ctx.trust.validate(wangEnc, { purpose: "encrypt" })).rejects.toMatchObject({
      code: "REVOCATION_UNAVAILABLE",
    });
  });

  it("a current CRL dropped into the configured folder is read at the next run", async () => {
    writeFileSync(join(crlDir, "gca-new.crl"), gcaCrl("c", at(99), at(200), 0x12));
    await server.refreshCrls();
    const { gca } = gcaStatus();
    expect(gca).toMatchObject({ state: "ok", nextUpdate: at(200).toISOString() });
    expect(gca.sources).toEqual([join(crlDir, "gca-new.crl")]);
    await expect(server.ctx.trust.validate(wangEnc, { purpose: "encrypt" })).resolves.toBeDefined();
  });

  it("a CRL with the GCA's name but another key, or an oversized answer, is refused and recorded", async () => {
    // A forger's CA with the GCA's subject, self-signed with another key.
    const fake = { key: join(work, "fake.key"), cert: join(work, "fake.pem") };
    const subject = execFileSync("openssl", [
      "x509",
      "-in",
      pkiPath(MANIFEST.intermediate.cert),
      "-noout",
      "-subject",
      "-nameopt",
      "compat,utf8",
    ])
      .toString("utf8")
      .replace(/^subject=/, "")
      .trim()
      .replace(/^/, "/")
      .replace(/, /g, "/");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-utf8",
        "-keyout",
        fake.key,
        "-subj",
        subject,
        "-days",
        "2",
        "-out",
        fake.cert,
      ],
      { stdio: "ignore" },
    );
    serve = {
      status: 200,
      body: readFileSync(
        issueTestCrl({
          dir: work,
          name: "forged",
          thisUpdate: at(99),
          nextUpdate: at(5000),
          number: 0x7f,
          signer: fake,
        }),
      ),
    };
    let r = await server.refreshCrls();
    expect(r.failed.map((f) => f.error).join()).toMatch(/not signed by a known CA certificate/);
    expect(gcaStatus().gca.nextUpdate).toBe(at(200).toISOString()); // the forged nextUpdate is not believed

    serve = { status: 200, body: Buffer.alloc(CRL_FETCH_LIMITS.maxBytes + 1) };
    r = await server.refreshCrls();
    expect(r.failed.map((f) => f.error).join()).toMatch(
      new RegExp(`sent more than ${CRL_FETCH_LIMITS.maxBytes} bytes`),
    );
  });

  it("a CA of which no source yields a CRL any more: status and ops hear that none is at hand", async () => {
    rmSync(join(crlDir, "grca.crl.pem"));
    const r = await server.refreshCrls();
    expect(r.warned).toBe(1);
    const s = serverStatus(server.ctx.db, { retentionDays: 30, now: clock });
    const root = s.crls.issuers.find((i) => i.issuer.includes("GRCA"))!;
    expect(root.state).toBe("unavailable");
    expect(s.crls.warnings.join("\n")).toMatch(/No CRL of .*GRCA.* is at hand/);
    expect(mails().at(-1)).toMatchObject({ kind: "crl.unavailable" });
    await expect(server.ctx.trust.validate(wangEnc, { purpose: "encrypt" })).rejects.toMatchObject({
      code: "REVOCATION_UNAVAILABLE",
    });
  });
});

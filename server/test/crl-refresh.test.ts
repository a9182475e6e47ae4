/**
 * The CRL refresh (server/src/crls): a running relay picks up a new CRL from its CRL folder and refuses a
 * certificate it revokes (cached validations dropped), warns ops (status and e-mail) before a CRL goes stale, and
 * fetches distribution points over real local HTTP within the CLI's limits. On PostgreSQL a second instance runs
 * no refresh of its own (one lease) and still sees the new CRL. Real openssl CRLs from a copy of the fixture CA.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CRL_FETCH_LIMITS, parseCertificate } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyCaDb, genCrl } from "../../packages/pki/test/ca-db.js";
import { serverStatus } from "../src/commands/status.js";
import { loadConfig } from "../src/config.js";
import type { CrlSourceStatus } from "../src/crls/status.js";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, MANIFEST, person, pkiPath, registerFixtures, startTestServer } from "./helpers.js";
import { TEST_DB } from "./helpers/postgres.js";
import { rawAll } from "./helpers/sql.js";

const HOUR = 3600_000;
let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let second: RunningServer | undefined;
let work: string;
let crlDir: string;
let http: Server;
/** What the distribution point server answers, by path ("big": more than the fetch limit). */
const served = new Map<string, Uint8Array | "big">();
let caDbN = 0;

/** A GCA CRL from a fresh copy of the fixture CA database, valid `hours`, revoking the serials in `revoke`. */
function gcaCrl(hours: number, revoke: string[] = []): Uint8Array {
  const db = join(work, `ca-db-${caDbN++}`);
  copyCaDb(db, (index) =>
    index
      .split("\n")
      .map((line) => {
        const f = line.split("\t");
        if (f[0] === "V" && revoke.includes(f[3]!))
          return ["R", f[1], "260101000000Z,keyCompromise", ...f.slice(3)].join("\t");
        return line;
      })
      .join("\n"),
  );
  // A later CRL number than any CRL made before (each copy starts from the fixture's crlnumber).
  writeFileSync(join(db, "crlnumber"), `${(0x1000 + caDbN).toString(16).toUpperCase()}\n`);
  return genCrl(db, hours);
}

const statusOf = async (): Promise<CrlSourceStatus[]> =>
  (await serverStatus(server.ctx.db, { retentionDays: 30, crlWarnBeforeMs: 24 * HOUR })).crls;

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function loginStatus(url: string, id: string): Promise<{ status: number; code?: string }> {
  try {
    await new Api(url).login(id);
    return { status: 200 };
  } catch (e) {
    const m = /^login: (\d+) (.*)$/s.exec((e as Error).message);
    if (!m) throw e;
    return { status: Number(m[1]), code: JSON.parse(m[2]!).error.code };
  }
}

beforeAll(async () => {
  data = await freshDataDir();
  work = mkdtempSync(join(tmpdir(), "sealpost-crl-refresh-"));
  crlDir = join(work, "crls");
  mkdirSync(crlDir);
  copyFileSync(pkiPath(MANIFEST.intermediate.crl), join(crlDir, "gca.crl"));
  copyFileSync(pkiPath(MANIFEST.root.crl), join(crlDir, "grca.crl"));
  http = createServer((req, res) => {
    const body = served.get(req.url ?? "");
    if (!body) return void res.writeHead(404).end();
    if (body === "big") {
      res.writeHead(200, { "content-type": "application/pkix-crl" });
      const chunk = Buffer.alloc(1024 * 1024);
      let sent = 0;
      // 1 MiB more than the limit, written as fast as the client reads.
      const pump = (): void => {
        while (sent <= CRL_FETCH_LIMITS.maxBytes) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("error", () => {});
      return pump();
    }
    res.writeHead(200, { "content-type": "application/pkix-crl", "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const base = loadConfig(data.dir).trust;
  const trust = {
    ...base,
    crls: [],
    crlDir,
    crlMirror: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    crlRefresh: { intervalMs: 300, warnBeforeMs: 24 * HOUR },
  };
  server = await startTestServer(data.dir, { trust });
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  if (TEST_DB === "postgres") second = await startTestServer(data.dir, { trust });
});

afterAll(async () => {
  await second?.close();
  await server?.close();
  await new Promise((r) => http?.close(r));
  await data?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("CRL refresh", () => {
  it("runs on exactly one instance (the crl-refresh lease)", () => {
    expect(server.jobs.runner.holds("crl-refresh")).toBe(true);
    if (second) expect(second.jobs.runner.holds("crl-refresh")).toBe(false);
  });

  it("picks up a new CRL from the folder; the certificate it revokes is refused at once, on every instance", async () => {
    // Validated (and cached) while still good.
    expect(await loginStatus(server.url, "tax-lee")).toEqual({ status: 200 });
    if (second) expect(await loginStatus(second.url, "tax-lee")).toEqual({ status: 200 });
    const serial = parseCertificate(readFileSync(pkiPath(person("tax-lee").sign.cert), "utf8")).serialHex.toUpperCase();
    const crl = gcaCrl(48, [serial]);
    const generation = server.ctx.trust.generation;
    const generation2 = second?.ctx.trust.generation ?? 0;
    writeFileSync(join(crlDir, "gca.crl"), crl);
    const row = await until("the new CRL in status", async () =>
      (await statusOf()).find(
        (c) =>
          c.source === `file:${join(crlDir, "gca.crl")}` &&
          c.thisUpdate &&
          c.state === "current" &&
          c.lastError === null &&
          c.nextUpdate! > new Date(Date.now() + 47 * HOUR).toISOString(),
      ),
    );
    expect(row.issuer).toContain("GCA");
    await until("this instance's trust reloaded", async () =>
      server.ctx.trust.generation > generation ? true : undefined,
    );
    expect(await loginStatus(server.url, "tax-lee")).toEqual({ status: 422, code: "CERT_REJECTED" });
    // Others are unaffected.
    expect(await loginStatus(server.url, "tax-wang")).toEqual({ status: 200 });
    // The second instance (no refresh job) sees the new CRL at its next validation after its sync interval (5 s).
    if (second) {
      const s = second;
      // Logins at most once a second (the auth rate limit allows 60 a minute).
      const r = await until(
        "the second instance refusing",
        async () => {
          const l = await loginStatus(s.url, "tax-lee");
          return l.status === 200 ? undefined : l;
        },
        15_000,
        1000,
      );
      expect(r).toEqual({ status: 422, code: "CERT_REJECTED" });
      expect(s.ctx.trust.generation).toBeGreaterThan(generation2);
    }
  });

  it("warns ops in status and by e-mail (once) when a CRL stops being current within the warning time", async () => {
    writeFileSync(join(crlDir, "gca.crl"), gcaCrl(2));
    const row = await until("a stale-soon CRL in status", async () =>
      (await statusOf()).find((c) => c.source === `file:${join(crlDir, "gca.crl")}` && c.state === "stale-soon"),
    );
    expect(Date.parse(row.nextUpdate!)).toBeLessThan(Date.now() + 3 * HOUR);
    const mails = await until("the notice in the outbox", async () => {
      const rows = await rawAll<{ recipients: string; subject: string; body: string }>(
        server.ctx.db,
        "SELECT recipients, subject, body FROM mail_outbox WHERE kind = 'crl.stale'",
      );
      return rows.length > 0 ? rows : undefined;
    });
    const ops = Object.values(MANIFEST.people).filter((p) => p.role === "ops");
    expect(ops.length).toBeGreaterThan(0);
    expect(JSON.parse(mails[0]!.recipients).sort()).toEqual(ops.map((p) => p.email).sort());
    expect(mails[0]!.body).toContain(row.nextUpdate!);
    // Later refreshes of the same CRL send no second notice.
    await new Promise((r) => setTimeout(r, 1000));
    const again = await rawAll(server.ctx.db, "SELECT id FROM mail_outbox WHERE kind = 'crl.stale'");
    expect(again).toHaveLength(mails.length);
  });

  it("fetches the distribution points over HTTP; a CRL over the size limit is refused and reported", async () => {
    served.set("/crl/gca.crl", gcaCrl(72));
    served.set("/crl/grca.crl", "big");
    const gca = await until("the fetched GCA CRL", async () =>
      (await statusOf()).find((c) => c.source === "url:http://127.0.0.1:18080/crl/gca.crl" && c.state === "current"),
    );
    expect(gca.issuer).toContain("GCA");
    expect(Date.parse(gca.nextUpdate!)).toBeGreaterThan(Date.now() + 70 * HOUR);
    const grca = await until("the refused root CRL", async () =>
      (await statusOf()).find(
        (c) => c.source === "url:http://127.0.0.1:18080/crl/grca.crl" && c.lastError?.includes("more than"),
      ),
    );
    expect(grca.state).toBe("unavailable");
    expect(grca.lastError).toContain(`sent more than ${CRL_FETCH_LIMITS.maxBytes} bytes`);
    // The relay keeps answering.
    expect(await loginStatus(server.url, "tax-wang")).toEqual({ status: 200 });
  });
});

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCertificate } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { createTrustPolicy } from "../src/trust/index.js";
import type { CertInfo } from "../src/types.js";

/**
 * OCSP against real `openssl ocsp` responders over the fixture CA database: good, revoked, on hold and unknown
 * answers; a delegated responder certificate (id-kp-OCSPSigning, issued by the GCA); stale answers (nextUpdate
 * passed, or no nextUpdate and older than the freshness limit); and answers signed by the wrong key.
 */
const pki = resolve(import.meta.dirname, "../../../fixtures/pki");
const path = (p: string) => join(pki, p);
const cert = (p: string): CertInfo => parseCertificate(new Uint8Array(readFileSync(path(p))));
const root = cert("root/grca.cert.pem");
const gca = cert("intermediate/gca.cert.pem");
const rootCrl = new Uint8Array(readFileSync(path("root/grca.crl.pem")));
const chen = cert("people/soc-chen/sign.cert.pem");
const huang = cert("people/soc-huang/sign.cert.pem");

const tmp = mkdtempSync(join(tmpdir(), "sealpost-ocsp-"));
const children: ChildProcess[] = [];
const ports: Record<string, number> = {};

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
}

/** Starts `openssl ocsp` on a free loopback port; stopped in afterAll. */
async function responder(
  name: string,
  index: string,
  signer: string,
  key: string,
  extra: string[] = [],
): Promise<void> {
  const port = await freePort();
  const child = spawn(
    "openssl",
    [
      "ocsp",
      "-index",
      index,
      "-port",
      String(port),
      "-rsigner",
      signer,
      "-rkey",
      key,
      "-CA",
      path("intermediate/gca.cert.pem"),
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  children.push(child);
  ports[name] = port;
  // openssl prints "ACCEPT [::]:<port>" once it listens (a bare TCP probe would wedge its accept loop).
  await new Promise<void>((ok, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`openssl ocsp did not start on port ${port}`)), 20_000);
    child.on("exit", (code) => fail(new Error(`openssl ocsp exited with ${code}`)));
    child.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      if (seen.includes("ACCEPT")) {
        clearTimeout(timer);
        ok();
      }
    });
  });
}

beforeAll(async () => {
  // The CA database without 黃淑芬's signing certificate, so the responder answers "unknown" for it.
  const index = readFileSync(path("ca-db/index.txt"), "utf8")
    .split("\n")
    .filter((l) => l.split("\t")[3]?.toLowerCase() !== huang.serialHex.replace(/^0+/, "").toLowerCase())
    .join("\n");
  writeFileSync(join(tmp, "index.txt"), index);
  writeFileSync(join(tmp, "index.txt.attr"), "unique_subject = no\n");
  const idx = join(tmp, "index.txt");
  const gcaCert = path("intermediate/gca.cert.pem");
  const gcaKey = path("intermediate/gca.key.pem");

  // A forged "GCA" certificate: the GCA's name over an unrelated key (the impostor's).
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-x509",
      "-utf8",
      "-key",
      path("troubled/impostor/key.pem"),
      "-subj",
      "/C=TW/O=sealpost test/CN=測試用 政府憑證管理中心 GCA (test)",
      "-days",
      "2",
      "-out",
      join(tmp, "fake-gca.pem"),
    ],
    { stdio: "pipe" },
  );
  // A delegated responder certificate issued by the real GCA (EC key: quick to make).
  execFileSync("openssl", ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", join(tmp, "responder.key")], {
    stdio: "pipe",
  });
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-key",
      join(tmp, "responder.key"),
      "-subj",
      "/C=TW/O=sealpost test/CN=GCA OCSP responder (test)",
      "-out",
      join(tmp, "responder.csr"),
    ],
    { stdio: "pipe" },
  );
  writeFileSync(
    join(tmp, "responder.ext"),
    "extendedKeyUsage=OCSPSigning\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n",
  );
  execFileSync(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      join(tmp, "responder.csr"),
      "-CA",
      gcaCert,
      "-CAkey",
      gcaKey,
      "-set_serial",
      "0x7fff01",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      join(tmp, "responder.ext"),
      "-out",
      join(tmp, "responder.pem"),
    ],
    { stdio: "pipe" },
  );

  await responder("main", idx, gcaCert, gcaKey);
  await responder("short", idx, gcaCert, gcaKey, ["-nmin", "1"]);
  await responder("delegated", idx, join(tmp, "responder.pem"), join(tmp, "responder.key"));
  await responder("forged", idx, join(tmp, "fake-gca.pem"), path("troubled/impostor/key.pem"));
  await responder("stranger", idx, path("troubled/impostor/cert.pem"), path("troubled/impostor/key.pem"));
}, 60_000);

afterAll(() => {
  for (const c of children) c.kill();
  rmSync(tmp, { recursive: true, force: true });
});

function policyFor(
  name: string,
  extra: { now?: () => Date; ocspMaxAgeSeconds?: number; revocation?: "require" | "warn" } = {},
) {
  return createTrustPolicy({
    anchors: [root],
    intermediates: [gca],
    crls: [rootCrl], // the root CRL covers the GCA; the end entities rely on OCSP alone
    ocsp: true,
    rewriteUrl: (u) => u.replace("127.0.0.1:18081", `127.0.0.1:${ports[name]}`),
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<PkiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PkiError);
  return e as PkiError;
}

describe("OCSP with openssl ocsp as the responder", () => {
  it("good: the answer, signed by the GCA itself, is the revocation source", async () => {
    const r = await policyFor("main").validate(chen, { purpose: "sign" });
    expect(r.revocation?.source).toBe("ocsp");
    expect(r.revocation?.detail).toContain(`127.0.0.1:${ports.main}`);
    expect(r.revocation?.thisUpdate).toBeInstanceOf(Date);
    expect(r.checks).toContain("revocation:ocsp");
  });

  it("revoked => REVOKED with the reason and date from the responder", async () => {
    const e = await failure(policyFor("main").validate(cert("troubled/revoked/cert.pem")));
    expect(e.code).toBe("REVOKED");
    expect(e.message).toMatch(
      /蔡宗翰's certificate .* was revoked on \d{4}-\d{2}-\d{2} \(keyCompromise\), per the OCSP responder/,
    );
    expect(e.details?.source).toBe("ocsp");
  });

  it("on hold => ON_HOLD", async () => {
    expect((await failure(policyFor("main").validate(cert("troubled/on_hold/cert.pem")))).code).toBe("ON_HOLD");
  });

  it("unknown => REVOCATION_UNAVAILABLE under require, a warning under warn", async () => {
    const e = await failure(policyFor("main").validate(huang));
    expect(e.code).toBe("REVOCATION_UNAVAILABLE");
    expect(e.message).toContain("does not know this certificate");
    const w = await policyFor("main", { revocation: "warn" }).validate(huang);
    expect(w.warnings.join(" ")).toContain("黃淑芬");
  });

  it("a delegated responder certificate issued by the GCA with id-kp-OCSPSigning is accepted", async () => {
    const r = await policyFor("delegated").validate(chen);
    expect(r.revocation?.detail).toContain("GCA OCSP responder (test)");
  });

  it("stale answers are refused: nextUpdate passed, or no nextUpdate and older than ocspMaxAgeSeconds", async () => {
    const tomorrow = () => new Date(Date.now() + 24 * 3600_000);
    const a = await failure(policyFor("short", { now: tomorrow }).validate(chen, { time: new Date() }));
    expect(a.code).toBe("REVOCATION_UNAVAILABLE");
    expect(a.message).toContain("stale");
    const b = await failure(
      policyFor("main", { now: tomorrow, ocspMaxAgeSeconds: 3600 }).validate(chen, { time: new Date() }),
    );
    expect(b.code).toBe("REVOCATION_UNAVAILABLE");
    expect(b.message).toContain("older than 3600 s");
    // The same answer within its freshness window is fine.
    await expect(policyFor("short").validate(chen)).resolves.toMatchObject({ revocation: { source: "ocsp" } });
  });

  it("answers signed by the wrong key are refused: a forged GCA name, or an unrelated signer", async () => {
    const forged = await failure(policyFor("forged").validate(chen));
    expect(forged.code).toBe("REVOCATION_UNAVAILABLE");
    expect(forged.message).toContain("signature does not verify");
    const stranger = await failure(policyFor("stranger").validate(chen));
    expect(stranger.code).toBe("REVOCATION_UNAVAILABLE");
    expect(stranger.message).toContain("not signed by the issuing CA or a responder it authorised");
  });
});

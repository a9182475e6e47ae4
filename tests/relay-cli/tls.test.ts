import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initDataDir, silentLogger, startServer } from "@sealpost/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { M, pki, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * TLS as a user meets it: a relay whose certificate comes from an internal CA is refused with the certificate's
 * issuer and SHA-256 (exit 8) until that CA is trusted with --ca or the config's "ca"; https:// against a plain
 * http port is a protocol mismatch (exit 10). A real TLS relay (certificates made here by OpenSSL, throwaway), the
 * real `sealpost` binary.
 */

let plain: TestRelay;
let tls: TestRelay;
let caPem: string;
let serverSha256: string;

/** An internal CA and a server certificate for 127.0.0.1 signed by it, made with OpenSSL in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/O=Sealpost Test Agency/CN=Sealpost Test Internal CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  );
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.pem"),
    "-days",
    "2",
    "-extfile",
    f("ext.cnf"),
  );
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

beforeAll(async () => {
  plain = await startRelay("sealpost-tls-");
  const certs = makeCertificates(join(plain.work, "tls"));
  caPem = certs.ca;
  serverSha256 = execFileSync("openssl", ["x509", "-in", certs.cert, "-noout", "-fingerprint", "-sha256"], {
    encoding: "utf8",
  })
    .trim()
    .split("=")[1]!;
  const admin = M.people["ops-wu"];
  const data = join(plain.work, "tls-data");
  await initDataDir({
    data,
    trust: pki(M.root.cert),
    intermediates: pki(M.intermediate.cert),
    crl: [pki(M.intermediate.crl), pki(M.root.crl)],
    adminCert: pki(admin.sign.cert),
    adminEmail: admin.email,
    adminAgency: admin.agency,
    log: silentLogger,
  });
  const server = await startServer(data, {
    listen: "127.0.0.1:0",
    log: silentLogger,
    tls: { cert: certs.cert, key: certs.key },
  });
  tls = { work: plain.work, server, close: () => server.close() };
}, 120_000);
afterAll(async () => {
  await tls?.close();
  await plain?.close();
});

describe("a relay with an internal CA's certificate", () => {
  test("without the CA: SERVER_CERT_UNTRUSTED with issuer and SHA-256, exit 8", async () => {
    expect(tls.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await sealpostAs(tls, "ops-wu", ["login"]);
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toContain("[SERVER_CERT_UNTRUSTED]");
    expect(r.stderr).toContain("does not trust");
    expect(r.stderr).toContain("CN=Sealpost Test Internal CA");
    expect(r.stderr).toContain(`SHA-256 ${serverSha256}`);
    expect(r.stderr).toMatch(/hint: .*--ca FILE/);
    expect(r.stderr).not.toContain("Cannot reach");
    const j = await sealpostAs(tls, "ops-wu", ["--json", "login"]);
    expect(JSON.parse(j.stdout).error.details).toMatchObject({ sha256: serverSha256, tlsCode: expect.any(String) });
  });

  test('--ca FILE trusts it; so does the config\'s "ca"', async () => {
    const withOption = await sealpostAs(tls, "ops-wu", ["--ca", caPem, "login"]);
    expect(withOption.code, withOption.stderr).toBe(0);
    expect(withOption.stdout).toContain(`logged in to ${tls.server.url}`);
    const list = await sealpostAs(tls, "ops-wu", ["--ca", caPem, "--json", "admin", "agency", "list"]);
    expect(list.code, list.stderr).toBe(0);
    const withConfig = await sealpostAs(tls, "ops-wu", ["admin", "agency", "list"], { config: { ca: caPem } });
    expect(withConfig.code, withConfig.stderr).toBe(0);
    // A file that holds no certificate is a usage error.
    const bad = await sealpostAs(tls, "ops-wu", ["--ca", pki(M.people["ops-wu"].sign.key), "login"]);
    expect(bad.code, bad.stderr).toBe(2);
  });
});

test("https:// against a plain http port: PROTOCOL_MISMATCH, exit 10", async () => {
  const httpsUrl = plain.server.url.replace(/^http:/, "https:");
  const r = await sealpostAs(plain, "ops-wu", ["login", "--server", httpsUrl]);
  expect(r.code, r.stderr).toBe(10);
  expect(r.stderr).toContain("[PROTOCOL_MISMATCH]");
  expect(r.stderr).toContain("does not answer in TLS");
  expect(r.stderr).toMatch(/hint: .*https:\/\//);
});

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCertificate } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { createTrustPolicy } from "../src/trust/index.js";
import { copyCaDb, genCrl } from "./ca-db.js";
import type { CertInfo } from "../src/types.js";

/**
 * CRL handling against the committed test PKI: an expired CRL, a certificateHold lifted by a later CRL that
 * `openssl ca -gencrl` writes from a copy of the fixture CA database, and CRLs fetched over a real HTTP socket
 * from the certificates' distribution points, with the disk cache honouring nextUpdate.
 */
const pki = resolve(import.meta.dirname, "../../../fixtures/pki");
const bytes = (p: string) => new Uint8Array(readFileSync(join(pki, p)));
const cert = (p: string): CertInfo => parseCertificate(bytes(p));
const root = cert("root/grca.cert.pem");
const gca = cert("intermediate/gca.cert.pem");
const rootCrl = bytes("root/grca.crl.pem");
const chen = cert("people/soc-chen/sign.cert.pem");
const onHold = cert("troubled/on_hold/cert.pem");
const revoked = cert("troubled/revoked/cert.pem");

const tmp = mkdtempSync(join(tmpdir(), "sealpost-crl-"));
let crlShort: Uint8Array; // nextUpdate in 1 hour, hold lifted
let crlLong: Uint8Array; // nextUpdate in 3 hours, hold lifted

beforeAll(() => {
  // A copy of the fixture CA database in which the hold on 鄭雅文's certificate is lifted.
  const db = join(tmp, "ca-db");
  copyCaDb(db, (text) => {
    const index = text.split("\n");
    const lifted = index.map((line) => {
      const f = line.split("\t");
      return f[0] === "R" && (f[2] ?? "").includes("holdInstruction")
        ? ["V", f[1], "", ...f.slice(3)].join("\t")
        : line;
    });
    expect(lifted.filter((l) => l.startsWith("R")).length).toBe(1);
    return lifted.join("\n");
  });
  crlShort = genCrl(db, 1);
  crlLong = genCrl(db, 3);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "valid";
  } catch (err) {
    if (err instanceof PkiError) return err.code;
    throw err;
  }
}

describe("CRL files", () => {
  it("an expired CRL is not revocation information: REVOCATION_UNAVAILABLE under require, a warning under warn", async () => {
    const crls = [bytes("intermediate/gca-expired.crl.pem"), rootCrl];
    const err = (await createTrustPolicy({ anchors: [root], intermediates: [gca], crls })
      .validate(chen)
      .catch((e) => e)) as PkiError;
    expect(err.code).toBe("REVOCATION_UNAVAILABLE");
    expect(err.message).toMatch(/expired on 2021-02-01/);
    const warned = await createTrustPolicy({
      anchors: [root],
      intermediates: [gca],
      crls,
      revocation: "warn",
    }).validate(chen);
    expect(warned.warnings).toHaveLength(1);
    expect(warned.warnings[0]).toMatch(/陳怡君.*expired on 2021-02-01/);
    expect(warned.revocation?.source).toBe("none");
  });

  it("certificateHold is reversible: ON_HOLD with the current CRL, good once a later CRL no longer lists it", async () => {
    const dir = join(tmp, "hold");
    mkdirSync(dir);
    writeFileSync(join(dir, "grca.crl"), rootCrl);
    writeFileSync(join(dir, "gca-2.crl"), bytes("intermediate/gca.crl.der"));
    const policy = createTrustPolicy({ anchors: [root], intermediates: [gca], crlDir: dir });
    const err = (await policy.validate(onHold).catch((e) => e)) as PkiError;
    expect(err.code).toBe("ON_HOLD");
    expect(err.message).toMatch(/鄭雅文's certificate .* was put on hold on/);
    writeFileSync(join(dir, "gca-3.crl"), crlShort); // CRL number 3, issued by `openssl ca -gencrl`
    const ok = await policy.validate(onHold, { purpose: "encrypt" });
    expect(ok.revocation?.detail).toContain("gca-3.crl");
    // The later CRL still lists the revoked certificate.
    expect(await codeOf(policy.validate(revoked))).toBe("REVOKED");
  });

  it("a CRL whose signature was tampered with is not used", async () => {
    const bad = new Uint8Array(crlShort);
    bad[bad.length - 5] = (bad[bad.length - 5] as number) ^ 0x01;
    const err = (await createTrustPolicy({ anchors: [root], intermediates: [gca], crls: [bad, rootCrl] })
      .validate(chen)
      .catch((e) => e)) as PkiError;
    expect(err.code).toBe("REVOCATION_UNAVAILABLE");
    expect(err.message).toContain("not trustworthy");
  });
});

describe("CRLs from HTTP distribution points", () => {
  let server: Server;
  let port = 0;
  const hits: Record<string, number> = {};
  let gcaBody: Uint8Array;
  let rootDer: Buffer;

  beforeAll(async () => {
    rootDer = execFileSync("openssl", ["crl", "-in", join(pki, "root/grca.crl.pem"), "-outform", "DER"]);
    gcaBody = crlShort;
    server = createServer((req, res) => {
      hits[req.url ?? ""] = (hits[req.url ?? ""] ?? 0) + 1;
      if (req.url === "/crl/gca.crl") res.end(Buffer.from(gcaBody));
      else if (req.url === "/crl/grca.crl") res.end(rootDer);
      else if (req.url === "/crl/huge.crl") res.end(Buffer.alloc(4096));
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((ok) => server.close(ok));
  });

  it("fetches once, then serves from the cache (memory and disk) until nextUpdate passes", async () => {
    let clock = new Date();
    const cacheDir = join(tmp, "cache");
    const options = {
      anchors: [root],
      intermediates: [gca],
      fetchCrls: true,
      cacheDir,
      now: () => clock,
      rewriteUrl: (u: string) => u.replace("127.0.0.1:18080", `127.0.0.1:${port}`),
    };
    const first = await createTrustPolicy(options).validate(chen);
    expect(first.revocation?.source).toBe("crl");
    expect(first.revocation?.detail).toContain(`http://127.0.0.1:${port}/crl/gca.crl`);
    expect(hits["/crl/gca.crl"]).toBe(1);
    expect(hits["/crl/grca.crl"]).toBe(1);

    const policy = createTrustPolicy(options);
    await policy.validate(chen);
    await policy.validate(cert("people/tax-wang/encrypt.cert.pem"), { purpose: "encrypt" });
    expect(await codeOf(policy.validate(revoked))).toBe("REVOKED");
    expect(hits["/crl/gca.crl"]).toBe(1); // disk cache written by the first policy
    expect(hits["/crl/grca.crl"]).toBe(1);

    // Two hours later the 1-hour CRL is stale: it is fetched again, and the server now has a 3-hour one.
    gcaBody = crlLong;
    clock = new Date(Date.now() + 2 * 3600_000);
    await policy.validate(chen);
    expect(hits["/crl/gca.crl"]).toBe(2);
    expect(hits["/crl/grca.crl"]).toBe(1); // the root CRL is good until 2099
    await policy.validate(chen);
    expect(hits["/crl/gca.crl"]).toBe(2);
  });

  it("an unreachable or oversized distribution point leaves the status unavailable, with the reason", async () => {
    const huge = createTrustPolicy({
      anchors: [root],
      intermediates: [gca],
      crls: [rootCrl],
      fetchCrls: true,
      maxCrlBytes: 1000,
      rewriteUrl: (u: string) => u.replace("127.0.0.1:18080/crl/gca.crl", `127.0.0.1:${port}/crl/huge.crl`),
    });
    const err = (await huge.validate(chen).catch((e) => e)) as PkiError;
    expect(err.code).toBe("REVOCATION_UNAVAILABLE");
    expect(err.message).toContain("more than 1000 bytes");
    const missing = createTrustPolicy({
      anchors: [root],
      intermediates: [gca],
      crls: [rootCrl],
      fetchCrls: true,
      rewriteUrl: (u: string) => u.replace("127.0.0.1:18080/crl/gca.crl", `127.0.0.1:${port}/nothing`),
    });
    const err2 = (await missing.validate(chen).catch((e) => e)) as PkiError;
    expect(err2.code).toBe("REVOCATION_UNAVAILABLE");
    expect(err2.message).toContain("HTTP 404");
  });
});

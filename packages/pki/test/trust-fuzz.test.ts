import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCertificate } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { createTrustPolicy, verifyCertificate } from "../src/trust/index.js";

/**
 * Malformed input never escapes as anything but a PkiError: every file of BoringSSL's certificate-parser corpus is
 * validated as an end entity and offered as a trust anchor, and every file of OpenSSL's CRL corpus is loaded as a
 * CRL (shared/vectors/fuzz-corpora).
 */
const corpora = resolve(import.meta.dirname, "../../../../shared/vectors/fuzz-corpora");
const pki = resolve(import.meta.dirname, "../../../fixtures/pki");
const files = (dir: string) =>
  readdirSync(join(corpora, dir)).map((f) => new Uint8Array(readFileSync(join(corpora, dir, f))));

const root = parseCertificate(new Uint8Array(readFileSync(join(pki, "root/grca.cert.pem"))));
const gca = parseCertificate(new Uint8Array(readFileSync(join(pki, "intermediate/gca.cert.pem"))));
const chen = parseCertificate(new Uint8Array(readFileSync(join(pki, "people/soc-chen/sign.cert.pem"))));

async function outcome(p: () => Promise<unknown>): Promise<string> {
  try {
    await p();
    return "ok";
  } catch (err) {
    if (err instanceof PkiError) return err.code;
    return `UNTYPED ${(err as Error)?.stack ?? err}`;
  }
}

describe("fuzz corpora through the trust engine", () => {
  it("certificate corpus: only typed outcomes, as end entity and as anchor", async () => {
    const corpus = files("boringssl-parse_certificate_fuzzer_corpus");
    expect(corpus.length).toBeGreaterThan(100);
    const seen = new Map<string, number>();
    for (const der of corpus) {
      for (const r of [
        await outcome(() =>
          verifyCertificate(der, { anchors: [root.der], intermediates: [gca.der], revocation: "off" }),
        ),
        await outcome(() =>
          verifyCertificate(chen.der, { anchors: [der], intermediates: [gca.der, der], revocation: "off" }),
        ),
      ]) {
        expect(r).not.toMatch(/^UNTYPED/);
        seen.set(r, (seen.get(r) ?? 0) + 1);
      }
    }
    // Nothing in a random corpus chains to the test root.
    expect(seen.get("ok") ?? 0).toBe(0);
    expect(seen.get("MALFORMED") ?? 0).toBeGreaterThan(0);
  });

  it("CRL corpus: unreadable CRLs are MALFORMED at load time; readable ones never settle a status they do not sign", async () => {
    const corpus = files("openssl-crl");
    expect(corpus.length).toBeGreaterThan(100);
    let malformed = 0;
    for (const crl of corpus) {
      const r = await outcome(async () => {
        const policy = createTrustPolicy({ anchors: [root], intermediates: [gca], crls: [crl] });
        return policy.validate(chen);
      });
      expect(r).not.toMatch(/^UNTYPED/);
      expect(r).not.toBe("ok"); // no corpus CRL is signed by the test CAs
      if (r === "MALFORMED") malformed++;
    }
    expect(malformed).toBeGreaterThan(0);
  });
});

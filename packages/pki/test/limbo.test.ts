import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PkiError } from "../src/errors.js";
import { verifyCertificate } from "../src/trust/index.js";

/**
 * C2SP x509-limbo (2023-12 edition, shared/vectors/x509-limbo): every rfc5280::*, pathlen::* and pathological::*
 * case must give its expected result, with the path built from trusted_certs + untrusted_intermediates, at
 * validation_time, with the key usage / extended key usage requirements and max_chain_depth. Peer-name (DNS)
 * checks are skipped: S/MIME has no server name. webpki::* (CA/B Forum TLS rules) is run and counted only.
 */
const root = resolve(import.meta.dirname, "../../../../shared/vectors/x509-limbo");
interface LimboCase {
  id: string;
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
  key_usage: string[] | null;
  extended_key_usage: string[] | null;
  expected_result: "SUCCESS" | "FAILURE";
  max_chain_depth: number | null;
}
const cases = (JSON.parse(readFileSync(resolve(root, "limbo.json"), "utf8")) as { testcases: LimboCase[] }).testcases;

const EKU: Record<string, string> = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  anyExtendedKeyUsage: "2.5.29.37.0",
};

function der(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(b64, "base64"));
}

async function run(c: LimboCase): Promise<{ ok: boolean; why: string }> {
  const time = c.validation_time ? new Date(c.validation_time) : new Date();
  try {
    await verifyCertificate(der(c.peer_certificate), {
      anchors: c.trusted_certs.map(der),
      intermediates: c.untrusted_intermediates.map(der),
      time,
      now: () => time,
      revocation: "off",
      strictProfile: true,
      acceptableEkus: c.extended_key_usage ? c.extended_key_usage.map((e) => EKU[e] ?? e) : [],
      requiredKeyUsage: c.key_usage ?? undefined,
      maxChainDepth: c.max_chain_depth ?? undefined,
    });
    return { ok: true, why: "valid" };
  } catch (err) {
    if (err instanceof PkiError) return { ok: false, why: `${err.code}: ${err.message}` };
    throw err;
  }
}

const MUST = /^(rfc5280|pathlen|pathological)::/;
const tally = { must: [0, 0], webpki: [0, 0], webpkiFailed: [] as string[] };

describe("x509-limbo", () => {
  for (const c of cases.filter((x) => MUST.test(x.id))) {
    it(`${c.id} (${c.expected_result})`, async () => {
      const r = await run(c);
      tally.must[1] = (tally.must[1] ?? 0) + 1;
      if (r.ok === (c.expected_result === "SUCCESS")) tally.must[0] = (tally.must[0] ?? 0) + 1;
      if (process.env.LIMBO_DUMP) console.log(`DUMP ${c.id} ${r.why.slice(0, 160)}`);
      expect(r.ok ? "SUCCESS" : `FAILURE (${r.why})`).toMatch(
        c.expected_result === "SUCCESS" ? /^SUCCESS$/ : /^FAILURE/,
      );
    });
  }

  it("webpki::* cases run without crashing (informational count)", async () => {
    for (const c of cases.filter((x) => x.id.startsWith("webpki::"))) {
      const r = await run(c);
      tally.webpki[1] = (tally.webpki[1] ?? 0) + 1;
      if (r.ok === (c.expected_result === "SUCCESS")) tally.webpki[0] = (tally.webpki[0] ?? 0) + 1;
      else tally.webpkiFailed.push(`${c.id}: expected ${c.expected_result}, got ${r.why}`);
    }
    expect(tally.webpki[1]).toBeGreaterThan(0);
  });

  afterAll(() => {
    console.log(
      `x509-limbo: rfc5280/pathlen/pathological ${tally.must[0]}/${tally.must[1]}; webpki (informational) ${tally.webpki[0]}/${tally.webpki[1]}\n  ${tally.webpkiFailed.join("\n  ")}`,
    );
  });
});

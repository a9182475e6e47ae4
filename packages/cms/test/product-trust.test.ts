import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { createTrustPolicy, loadKeystore, pickKey } from "@sealpost/pki";
import type { KeyEntry, TrustPolicy } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvelopeWriter, SignedDataWriter, openFile, seal } from "../src/index.js";
import { collect, intermediate, manifest, pattern, pkiDir, root, tempDir, troubled } from "./helpers.js";

/**
 * cms with the product's pieces: keys from the fixture PKCS#12 files (PIN passed in memory) picked by key usage,
 * and @sealpost/pki's createTrustPolicy with the test GCA/GRCA CRLs (revocation required).
 */
const tmp = tempDir();
afterAll(() => tmp.cleanup());
let trust: TrustPolicy;
let chenSign: KeyEntry;
let wangEnc: KeyEntry;

async function p12(id: string, purpose: "sign" | "encrypt"): Promise<KeyEntry> {
  const p = (manifest.people as Record<string, { p12?: string; pin?: string }>)[id]!;
  const ks = await loadKeystore(join(pkiDir, p.p12!), { pin: p.pin! });
  return pickKey(ks, purpose);
}

beforeAll(async () => {
  chenSign = await p12("soc-chen", "sign");
  wangEnc = await p12("tax-wang", "encrypt");
  trust = createTrustPolicy({
    anchors: [root],
    intermediates: [intermediate],
    crls: [readFileSync(join(pkiDir, "intermediate/gca.crl.pem")), readFileSync(join(pkiDir, "root/grca.crl.pem"))],
    revocation: "require",
  });
});

async function sealedBy(signer: KeyEntry, data: Buffer): Promise<Buffer> {
  const inner: Buffer[] = [];
  const s = new SignedDataWriter({ signer }, (b) => inner.push(b));
  s.start();
  s.update(data);
  await s.finish();
  const out: Buffer[] = [];
  const e = new EnvelopeWriter({ recipients: [wangEnc.cert] }, (b) => out.push(b));
  e.start();
  e.update(Buffer.concat(inner));
  e.finish();
  return Buffer.concat(out);
}

describe("with PKCS#12 keystores and createTrustPolicy", () => {
  it("seal with the signing key from soc-chen.p12, open with tax-wang.p12: trusted, revocation checked", async () => {
    const data = pattern(90_000, 21);
    const out = new PassThrough();
    const [, sealed] = await Promise.all([
      seal(Readable.from([data]), out, { recipients: [wangEnc.cert], signer: chenSign }),
      collect(out),
    ]);
    const target = join(tmp.dir, "ok.csv");
    const r = await openFile(Readable.from([sealed]), target, { keys: [wangEnc], trust });
    expect(readFileSync(target).equals(data)).toBe(true);
    expect(r.signer?.commonName).toBe("陳怡君");
    expect(r.trust?.path.at(-1)?.sha256).toBe(root.sha256);
    expect(r.trust?.revocation?.source).toBe("crl");
  });

  it.each([
    ["revoked", "REVOKED"],
    ["on_hold", "ON_HOLD"],
  ])("%s signer => UNTRUSTED_SIGNER with pkiCode %s, nothing written", async (kind, pkiCode) => {
    const target = join(tmp.dir, `${kind}.csv`);
    const err = await openFile(Readable.from([await sealedBy(troubled(kind), pattern(1000))]), target, {
      keys: [wangEnc],
      trust,
    }).catch((e) => e);
    expect(err.code).toBe("UNTRUSTED_SIGNER");
    expect(err.details.pkiCode).toBe(pkiCode);
    expect(err.cause?.code).toBe(pkiCode);
  });
});

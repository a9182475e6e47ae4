// Keystores that ask for more password-based key derivation than sealpost allows are refused with KDF_LIMIT before
// any derivation runs. The files are real ones (openssl pkcs12 -export, node's PKCS#8 export, the Bouncy Castle
// PBMAC1 vector read in place) with their KDF parameters rewritten in the DER. Time is bounded by work, measured
// with the KDFs' own counter (kdfWorkPerformed), not by the clock.
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as asn1js from "asn1js";
import { afterAll, describe, expect, it } from "vitest";
import { PkiError } from "../src/errors.js";
import { KDF_LIMITS, kdfWorkPerformed } from "../src/keystore/kdf-budget.js";
import { loadKeystore } from "../src/keystore/load.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const fx = path.join(repoRoot, "fixtures/pki");
// The shared vectors beside the repository, read in place (SEALPOST_VECTORS names them from a worktree elsewhere).
const vectors = process.env.SEALPOST_VECTORS ?? path.resolve(repoRoot, "../shared/vectors");
const bcPbmac1 = path.join(vectors, "pkcs12/bouncycastle/test_key_pbmac1_bcjsse.pfx");
const manifest = JSON.parse(readFileSync(path.join(fx, "manifest.json"), "utf8"));
const chen = manifest.people["soc-chen"] as { sign: { cert: string; key: string }; pin: string };
const dir = mkdtempSync(path.join(tmpdir(), "sealpost-kdf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OID_PBKDF2 = "1.2.840.113549.1.5.12";
const isOid = (b: unknown, prefix: string) =>
  b instanceof asn1js.ObjectIdentifier && b.valueBlock.toString().startsWith(prefix);

interface Rewrite {
  /** New iteration count of every PBKDF2, PKCS#12 PBE and the PKCS#12 MAC. */
  iterations?: number;
  /** New PBKDF2 keyLength (set or inserted). */
  keyLength?: number;
}

/** Rewrites KDF parameters everywhere in a DER tree, descending into OCTET STRINGs that hold DER. */
function rewriteKdfs(node: asn1js.AsnType, w: Rewrite): void {
  if (node instanceof asn1js.Sequence) {
    const [first, second] = node.valueBlock.value;
    if (second instanceof asn1js.Sequence && isOid(first, OID_PBKDF2)) {
      const p = second.valueBlock.value;
      if (w.iterations !== undefined) p[1] = new asn1js.Integer({ value: w.iterations });
      if (w.keyLength !== undefined) {
        const k = new asn1js.Integer({ value: w.keyLength });
        if (p[2] instanceof asn1js.Integer) p[2] = k;
        else p.splice(2, 0, k);
      }
    } else if (second instanceof asn1js.Sequence && isOid(first, "1.2.840.113549.1.12.1.")) {
      if (w.iterations !== undefined) second.valueBlock.value[1] = new asn1js.Integer({ value: w.iterations });
    }
  }
  if (node instanceof asn1js.OctetString && !node.idBlock.isConstructed) {
    const bytes = node.valueBlock.valueHexView;
    if (bytes[0] === 0x30) {
      const inner = asn1js.fromBER(bytes);
      if (inner.offset === bytes.length && !inner.result.error) {
        rewriteKdfs(inner.result, w);
        node.valueBlock.valueHexView = new Uint8Array(inner.result.toBER());
        return;
      }
    }
  }
  const kids = (node as { valueBlock?: { value?: unknown } }).valueBlock?.value;
  if (Array.isArray(kids)) for (const k of kids) rewriteKdfs(k as asn1js.AsnType, w);
}

/** A PKCS#12 file with its KDF parameters (and the MacData iteration count) rewritten. */
function rewritePfx(der: Buffer, w: Rewrite, name: string): string {
  const pfx = asn1js.fromBER(der).result as asn1js.Sequence;
  rewriteKdfs(pfx, w);
  const macData = pfx.valueBlock.value[2] as asn1js.Sequence;
  if (w.iterations !== undefined && macData.valueBlock.value[2])
    macData.valueBlock.value[2] = new asn1js.Integer({ value: w.iterations });
  const out = path.join(dir, name);
  writeFileSync(out, Buffer.from(pfx.toBER()));
  return out;
}

/** soc-chen's signing key and certificate as `openssl pkcs12 -export` writes them (PBES2 AES-256, 2048 iterations). */
const exported = execFileSync("openssl", [
  ...["pkcs12", "-export", "-inkey", path.join(fx, chen.sign.key), "-in", path.join(fx, chen.sign.cert)],
  ...["-passout", `pass:${chen.pin}`],
]);

/** Loads `file` expecting KDF_LIMIT; returns the error and the derivation work done meanwhile. */
async function refused(file: string, pin = chen.pin): Promise<{ e: PkiError; work: number }> {
  const before = kdfWorkPerformed();
  const e = await loadKeystore(file, { pin }).then(
    () => undefined,
    (x: unknown) => x,
  );
  const work = kdfWorkPerformed() - before;
  expect(e).toBeInstanceOf(PkiError);
  expect((e as PkiError).code).toBe("KDF_LIMIT");
  return { e: e as PkiError, work };
}

describe("keystore key-derivation limits", () => {
  it("opens an ordinary openssl keystore, its work counted exactly and far under the budget", async () => {
    const file = path.join(dir, "ordinary.p12");
    writeFileSync(file, exported);
    const before = kdfWorkPerformed();
    const ks = await loadKeystore(file, { pin: chen.pin });
    const work = kdfWorkPerformed() - before;
    expect(ks.entries).toHaveLength(1);
    // MAC: PKCS#12 KDF, 2048 iterations x 1 block x its weight; certificate safe and key bag: PBKDF2, 2048 x 1 block.
    expect(work).toBe(2048 * KDF_LIMITS.pkcs12KdfWeight + 2048 + 2048);
    expect(work).toBeLessThan(KDF_LIMITS.maxWork / 100);
  });

  it("refuses one KDF over 2,000,000 iterations before deriving anything", async () => {
    const { e, work } = await refused(rewritePfx(exported, { iterations: 2_000_001 }, "iter-2000001.p12"));
    expect(work).toBe(0);
    expect(e.message).toContain("2000001");
    expect(e.details).toMatchObject({ iterations: 2_000_001, limit: KDF_LIMITS.maxIterations });
    expect(e.hint).toMatch(/2,000,000 iterations/);
  });

  it("refuses a file whose KDFs are each allowed but together exceed the budget, before deriving anything", async () => {
    // 1,100,000 everywhere: MAC 8.8 million units + certificate safe 1.1 million + key bag 1.1 million = 11 million.
    const { e, work } = await refused(rewritePfx(exported, { iterations: 1_100_000 }, "iter-1100000.p12"));
    expect(work).toBe(0);
    expect(e.details).toMatchObject({ limit: KDF_LIMITS.maxWork, work: 11_000_000 });
  });

  it("charges the MAC twice when an empty or absent PIN is tried in both forms", async () => {
    // 700,000 everywhere: 5.6 + 0.7 + 0.7 million with a PIN; with both forms the two MACs alone need 11.2 million.
    const file = rewritePfx(exported, { iterations: 700_000 }, "iter-700000.p12");
    for (const pin of ["", undefined]) {
      const before = kdfWorkPerformed();
      const e = await loadKeystore(file, pin === undefined ? {} : { pin }).catch((x: unknown) => x);
      expect((e as PkiError).code).toBe("KDF_LIMIT");
      expect((e as PkiError).details).toMatchObject({ work: 11_200_000 });
      expect(kdfWorkPerformed() - before).toBe(0);
    }
  });

  describe("PBMAC1 (the fuzzing finding: 7.8 million iterations, a 256-byte key)", () => {
    const bc = readFileSync(bcPbmac1);

    it("the Bouncy Castle vector itself opens (keyLength 256 with HMAC-SHA-512 is allowed)", async () => {
      const file = path.join(dir, "bc.pfx");
      writeFileSync(file, bc);
      const before = kdfWorkPerformed();
      await loadKeystore(file, { pin: "xxxxxx" }).catch((x: unknown) => {
        // The vector's key may fail sealpost's strength floor or have no matching certificate: not a KDF matter.
        expect((x as PkiError).code).not.toBe("KDF_LIMIT");
      });
      // PBKDF2-HMAC-SHA-256, 65,536 iterations, 256 bytes = 8 blocks (plus its bags' own KDFs).
      expect(kdfWorkPerformed() - before).toBeGreaterThanOrEqual(65_536 * 8);
      expect(kdfWorkPerformed() - before).toBeLessThan(KDF_LIMITS.maxWork);
    });

    it("refuses 7,800,000 iterations with a 256-byte key before deriving anything", async () => {
      const file = rewritePfx(bc, { iterations: 7_800_000, keyLength: 256 }, "pbmac1-7.8m.pfx");
      const { work } = await refused(file, "xxxxxx");
      expect(work).toBe(0);
    });

    it("refuses a PBMAC1 key longer than 256 bytes", async () => {
      const { e, work } = await refused(rewritePfx(bc, { keyLength: 257 }, "pbmac1-key-257.pfx"), "xxxxxx");
      expect(work).toBe(0);
      expect(e.details).toMatchObject({ keyLength: 257, limit: KDF_LIMITS.maxPbmac1KeyLength });
    });

    it("counts the key length as work: 2,000,000 iterations of a 256-byte SHA-256 key exceed the budget", async () => {
      const file = rewritePfx(bc, { iterations: 2_000_000, keyLength: 256 }, "pbmac1-2m-256.pfx");
      const { e, work } = await refused(file, "xxxxxx");
      expect(work).toBe(0);
      expect((e.details as { work: number }).work).toBe(2_000_000 * 8);
    });
  });

  it("refuses an encrypted PKCS#8 key (DER and PEM) over the limit before node derives anything", async () => {
    const key = createPrivateKey(readFileSync(path.join(fx, chen.sign.key)));
    const der = key.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: chen.pin });
    const top = asn1js.fromBER(der).result;
    rewriteKdfs(top, { iterations: 3_000_000 });
    const bytes = Buffer.from(top.toBER());
    const derFile = path.join(dir, "key.der");
    writeFileSync(derFile, bytes);
    expect((await refused(derFile)).work).toBe(0);
    const pemFile = path.join(dir, "key.pem");
    const b64 = bytes.toString("base64").replace(/.{64}/g, "$&\n");
    writeFileSync(pemFile, `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${b64}\n-----END ENCRYPTED PRIVATE KEY-----\n`);
    expect((await refused(pemFile)).work).toBe(0);
  });
});

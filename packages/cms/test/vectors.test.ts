import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KeyEntry, TrustPolicy } from "@sealpost/pki";
import { parseCertificate, parseCertificates } from "@sealpost/pki";
import { afterAll, describe, expect, it } from "vitest";
import { inspect, openFile, openStream, verifyFile } from "../src/index.js";
import { tempDir, testTrust, vectorsDir } from "./helpers.js";

/**
 * Published vectors read in place from ../shared/vectors (RFC 4134 examples, OpenSSL's CMS test data). The
 * manifests state each case; here each case is run and its outcome asserted. sealpost refuses SHA-1 signatures
 * (WEAK_ALGORITHM) where the RFC 4134 text expects "ok", by design (DESIGN section 3).
 */
const rfc = (f: string) => join(vectorsDir, "rfc4134", f);
const ossl = (f: string) => join(vectorsDir, "openssl-cms", f);
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** DER bytes of a vector file: raw, PEM, or a MIME message with a base64 body. */
function der(path: string): Buffer {
  const raw = readFileSync(path);
  const text = raw.toString("latin1");
  const pem = text.match(/-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END/);
  if (pem) return Buffer.from(pem[1]!.replace(/\s+/g, ""), "base64");
  if (/^MIME-Version:/m.test(text))
    return Buffer.from(
      text
        .split(/\r?\n\r?\n/)
        .slice(1)
        .join("")
        .replace(/\s+/g, ""),
      "base64",
    );
  return raw;
}

let n = 0;
function asFile(b: Buffer): string {
  const p = join(tmp.dir, `v${n++}.der`);
  writeFileSync(p, b);
  return p;
}

const carl = parseCertificate(readFileSync(rfc("CarlRSASelf.cer")));
const bob: KeyEntry = {
  cert: parseCertificate(readFileSync(rfc("BobRSASignByCarl.cer"))),
  privateKey: createPrivateKey({ key: readFileSync(rfc("BobPrivRSAEncrypt.pri")), format: "der", type: "pkcs8" }),
  chain: [],
};
/** Accepts any signer: for cases whose failure must come from the CMS checks, not from path building. */
const acceptAll: TrustPolicy = {
  async validate(cert) {
    return { path: [cert], checks: [], revocation: undefined, warnings: [] };
  },
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (!c) throw e; // an untyped error is a bug
    return c;
  }
}

describe("RFC 4134 examples", () => {
  it.each([
    ["3.1.bin", "data", "ber-indefinite"],
    ["3.2.bin", "data", "der"],
    ["4.5.bin", "signedData", "ber-indefinite"],
    ["5.1.bin", "envelopedData", "der"],
    ["6.0.bin", "digestedData", "der"],
    ["7.1.bin", "encryptedData", "der"],
  ])("inspect %s", async (file, type, encoding) => {
    const r = await inspect(Readable.from([readFileSync(rfc(file))]));
    expect(r.contentType).toBe(type);
    expect(r.encoding).toBe(encoding);
    expect(r.totalBytes).toBe(readFileSync(rfc(file)).length);
  });

  it("4.11 certs-only SignedData: parses, and verify does not report success for zero signers", async () => {
    const r = await inspect(Readable.from([readFileSync(rfc("4.11.bin"))]));
    expect(r.signers).toEqual([]);
    expect(r.certificates.length).toBeGreaterThan(0);
    expect(await code(verifyFile(rfc("4.11.bin"), { trust: testTrust([carl]) }))).toBe("UNSIGNED_CONTENT");
  });

  it.each(["4.2.bin", "4.5.bin"])("%s (RSA with SHA-1): refused as WEAK_ALGORITHM", async (file) => {
    const ins = await inspect(Readable.from([readFileSync(rfc(file))]));
    expect(ins.signer?.digest).toBe("sha1");
    expect(await code(verifyFile(rfc(file), { trust: testTrust([carl]) }))).toBe("WEAK_ALGORITHM");
  });

  it.each(["4.1.bin", "4.4.bin", "4.6.bin", "4.7.bin", "4.10.bin"])("%s (DSA): UNSUPPORTED_ALGORITHM", async (file) => {
    expect(await code(verifyFile(rfc(file), { trust: testTrust([carl]) }))).toBe("UNSUPPORTED_ALGORITHM");
  });

  it("4.3 (DSA, detached): UNSUPPORTED_ALGORITHM with the content given", async () => {
    expect(await code(verifyFile(rfc("4.3.bin"), { trust: testTrust([carl]), content: rfc("ExContent.bin") }))).toBe(
      "UNSUPPORTED_ALGORITHM",
    );
  });

  it("5.1 (RSA PKCS#1 v1.5 + 3DES, unsigned content): refused as an integrity failure, even with allowUnsigned", async () => {
    // Nothing in a CBC envelope shows whether unsigned content was altered, and opening it whenever its padding
    // checks out would make success itself a padding oracle: the one integrity error, nothing written.
    const out = join(tmp.dir, "5.1.out");
    for (const allowUnsigned of [false, true]) {
      expect(await code(openFile(rfc("5.1.bin"), out, { keys: [bob], trust: testTrust([carl]), allowUnsigned }))).toBe(
        "TAMPERED",
      );
      expect(existsSync(out)).toBe(false);
    }
  });

  it("5.2 (RC2): UNSUPPORTED_ALGORITHM, no output", async () => {
    const out = join(tmp.dir, "5.2.out");
    expect(
      await code(openFile(rfc("5.2.bin"), out, { keys: [bob], trust: testTrust([carl]), allowUnsigned: true })),
    ).toBe("UNSUPPORTED_ALGORITHM");
  });

  it.each(["6.0.bin", "7.1.bin", "7.2.bin"])(
    "%s is not an envelope: openFile gives UNSUPPORTED_ALGORITHM",
    async (file) => {
      expect(
        await code(openFile(rfc(file), join(tmp.dir, `${file}.out`), { keys: [bob], trust: testTrust([carl]) })),
      ).toBe("UNSUPPORTED_ALGORITHM");
    },
  );
});

describe("OpenSSL CMS test data", () => {
  it.each([
    ["bad_signtime_attr.cms", "signing-time-unsigned"],
    ["no_ct_attr.cms", "content-type-missing"],
    ["no_md_attr.cms", "message-digest-missing"],
    ["ct_multiple_attr.cms", "content-type-multiple"],
  ])("%s must fail (BAD_SIGNATURE, reason %s)", async (file, reason) => {
    const err = await verifyFile(asFile(der(ossl(`80-test_cms_data/${file}`))), { trust: acceptAll }).catch((e) => e);
    expect(err.code).toBe("BAD_SIGNATURE");
    expect(err.details.reason).toBe(reason);
  });

  it("pkcs7-md4.pem: UNSUPPORTED_ALGORITHM", async () => {
    expect(await code(verifyFile(asFile(der(ossl("80-test_cms_data/pkcs7-md4.pem"))), { trust: acceptAll }))).toBe(
      "UNSUPPORTED_ALGORITHM",
    );
  });

  it("pkcs7-md4-encrypted.pem (signedAndEnvelopedData): UNSUPPORTED_ALGORITHM", async () => {
    const p = asFile(der(ossl("80-test_cms_data/pkcs7-md4-encrypted.pem")));
    expect(await code(openFile(p, `${p}.out`, { keys: [bob], trust: acceptAll }))).toBe("UNSUPPORTED_ALGORITHM");
  });

  it.each(["authenveloped_attrs.pem", "bad_authenveloped_attrs.pem"])(
    "%s (KEK recipient): UNSUPPORTED_ALGORITHM, nothing released",
    async (file) => {
      const p = asFile(der(ossl(`80-test_cms_data/${file}`)));
      const ins = await inspect(Readable.from([readFileSync(p)]));
      expect(ins.contentType).toBe("authEnvelopedData");
      expect(ins.recipients.map((r) => r.type)).toEqual(["kekri"]);
      expect(await code(openFile(p, `${p}.out`, { keys: [bob], trust: acceptAll }))).toBe("UNSUPPORTED_ALGORITHM");
    },
  );

  it("authenticated_attrs.pem (AuthenticatedData): UNSUPPORTED_ALGORITHM", async () => {
    const p = asFile(der(ossl("80-test_cms_data/authenticated_attrs.pem")));
    expect((await inspect(Readable.from([readFileSync(p)]))).contentType).toBe("authenticatedData");
    expect(await code(openFile(p, `${p}.out`, { keys: [bob], trust: acceptAll }))).toBe("UNSUPPORTED_ALGORITHM");
  });

  it("ciphertext_from_1_1_1.cms (ECDH P-256 kari, stdDH-sha1kdf, 3DES key wrap and content, unsigned): decrypts to smcont.txt, released as nothing (unsigned CBC)", async () => {
    const p = asFile(der(ossl("80-test_cms_data/ciphertext_from_1_1_1.cms")));
    const pem = readFileSync(ossl("smime-certs/smec3.pem"), "utf8");
    const key: KeyEntry = { cert: parseCertificates(pem)[0]!, privateKey: createPrivateKey(pem), chain: [] };
    const ins = await inspect(Readable.from([readFileSync(p)]));
    expect(ins.recipients.every((r) => r.type === "kari")).toBe(true);
    expect(ins.recipients.find((r) => r.keyTransport)?.keyTransport).toBe("ecdh-sha1kdf-3des-wrap");
    // The ECDH agreement, the 3DES key unwrap and the 3DES-CBC decryption work: what reaches the sink is smcont.txt.
    // Unsigned content in a CBC envelope is never released (even with allowUnsigned): the one integrity error.
    const decrypted = async (k: KeyEntry) => {
      const parts: Buffer[] = [];
      const err = await openStream(Readable.from([readFileSync(p)]), async (b) => void parts.push(Buffer.from(b)), {
        keys: [k],
        trust: acceptAll,
        allowUnsigned: true,
      }).catch((e) => e);
      return { code: err?.code, plain: Buffer.concat(parts) };
    };
    const right = await decrypted(key);
    expect(right.code).toBe("TAMPERED");
    expect(right.plain.equals(readFileSync(ossl("smcont.txt")))).toBe(true);
    expect(existsSync(`${p}.out`)).toBe(false);
    // another EC key of the same curve behind the right certificate: the unwrap fails, the same error, other bytes
    const other = readFileSync(ossl("smime-certs/smec1.pem"), "utf8");
    const wrong = await decrypted({ cert: key.cert, privateKey: createPrivateKey(other), chain: [] });
    expect(wrong.code).toBe("TAMPERED");
    expect(wrong.plain.equals(readFileSync(ossl("smcont.txt")))).toBe(false);
  });
});

describe("armored inputs read in place (PEM, S/MIME)", () => {
  it.each([
    ["80-test_cms_data/authenveloped_attrs.pem", "pem", "authEnvelopedData"],
    ["80-test_cms_data/pkcs7-md4.pem", "pem", "signedData"],
    ["80-test_cms_data/ciphertext_from_1_1_1.cms", "smime", "envelopedData"],
  ])("%s", async (file, armor, type) => {
    const r = await inspect(Readable.from([readFileSync(ossl(file))]));
    expect(r.armor).toBe(armor);
    expect(r.contentType).toBe(type);
    expect(r.totalBytes).toBe(der(ossl(file)).length);
    // every chunk split of the armor gives the same answer
    const bytes = readFileSync(ossl(file));
    for (const k of [1, 7, 64]) {
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += k) parts.push(bytes.subarray(i, i + k));
      expect(await inspect(Readable.from(parts))).toEqual(r);
    }
  });
  it("verifyFile reads PEM directly (MD4: UNSUPPORTED_ALGORITHM)", async () => {
    expect(await code(verifyFile(ossl("80-test_cms_data/pkcs7-md4.pem"), { trust: acceptAll }))).toBe(
      "UNSUPPORTED_ALGORITHM",
    );
  });
  it("a PEM file without its END line is TRUNCATED; a multipart S/MIME message is refused", async () => {
    const pem = readFileSync(ossl("80-test_cms_data/pkcs7-md4.pem"), "latin1");
    const cut = pem.slice(0, pem.indexOf("-----END"));
    expect(await code(inspect(Readable.from([Buffer.from(cut, "latin1")])))).toBe("TRUNCATED");
    const multipart = readFileSync(rfc("4.8.eml"));
    expect(await code(inspect(Readable.from([multipart])))).toBe("UNSUPPORTED_ALGORITHM");
  });
});

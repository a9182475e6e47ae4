import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCertificate } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { buildPaths, createTrustPolicy, validatePath } from "../src/trust/index.js";
import type { CertInfo, KeyPurpose } from "../src/types.js";

/** createTrustPolicy over the committed test PKI (fixtures/pki): good staff certificates and each troubled one. */
const pki = resolve(import.meta.dirname, "../../../fixtures/pki");
const bytes = (p: string) => new Uint8Array(readFileSync(join(pki, p)));
const cert = (p: string): CertInfo => parseCertificate(bytes(p));

const root = cert("root/grca.cert.pem");
const gca = cert("intermediate/gca.cert.pem");
const crls = [bytes("intermediate/gca.crl.pem"), bytes("root/grca.crl.pem")];
const manifest = JSON.parse(readFileSync(join(pki, "manifest.json"), "utf8")) as {
  people: Record<string, { name: string; sign: { cert: string }; encrypt: { cert: string } } & Record<string, unknown>>;
  troubled: Record<string, { cert: string; name: string }>;
};

const policy = createTrustPolicy({ anchors: [root], intermediates: [gca], crls });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "valid";
  } catch (err) {
    if (err instanceof PkiError) return err.code;
    throw err;
  }
}

const tmp = mkdtempSync(join(tmpdir(), "sealpost-trust-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("good staff certificates", () => {
  const people = Object.entries(manifest.people);
  it("the fixture lists staff", () => expect(people.length).toBeGreaterThanOrEqual(4));
  for (const [id, person] of people) {
    for (const purpose of ["sign", "encrypt"] as KeyPurpose[]) {
      it(`${id} ${purpose} certificate validates for ${purpose}, checked against the GCA CRL`, async () => {
        const c = cert(person[purpose].cert);
        const r = await policy.validate(c, { purpose });
        expect(r.path.map((x) => x.sha256)).toEqual([c.sha256, gca.sha256, root.sha256]);
        expect(r.revocation?.source).toBe("crl");
        expect(r.revocation?.thisUpdate).toBeInstanceOf(Date);
        expect(r.checks).toContain("keyUsage");
        expect(r.checks).toContain("revocation:crl");
        expect(r.warnings).toEqual([]);
      });
    }
    it(`${id}'s signing certificate is refused for encryption and vice versa (KEY_USAGE)`, async () => {
      expect(await codeOf(policy.validate(cert(`people/${id}/sign.cert.pem`), { purpose: "encrypt" }))).toBe(
        "KEY_USAGE",
      );
      expect(await codeOf(policy.validate(cert(`people/${id}/encrypt.cert.pem`), { purpose: "sign" }))).toBe(
        "KEY_USAGE",
      );
    });
  }
});

describe("troubled certificates each fail with their own code", () => {
  const cases: Array<[string, KeyPurpose, string[]]> = [
    ["expired", "sign", ["EXPIRED"]],
    ["not_yet_valid", "sign", ["NOT_YET_VALID"]],
    ["revoked", "sign", ["REVOKED"]],
    ["on_hold", "encrypt", ["ON_HOLD"]],
    ["sign_only_usage", "encrypt", ["KEY_USAGE"]],
    ["encrypt_only_usage", "sign", ["KEY_USAGE"]],
    ["rsa1024_sha1", "sign", ["WEAK_ALGORITHM", "WEAK_KEY"]],
    ["impostor", "sign", ["UNTRUSTED"]],
  ];
  for (const [kind, purpose, codes] of cases) {
    it(`${kind} => ${codes.join(" or ")}`, async () => {
      const t = manifest.troubled[kind];
      if (!t) throw new Error(`fixture ${kind} missing`);
      const err = await policy.validate(cert(t.cert), { purpose }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PkiError);
      expect(codes).toContain((err as PkiError).code);
      // The message names the holder, so a civil servant knows whose certificate it is.
      expect((err as PkiError).message).toContain(t.name);
    });
  }

  it("the revoked message says when, why and per which CRL", async () => {
    const err = (await policy
      .validate(cert(manifest.troubled.revoked?.cert ?? ""), { purpose: "sign" })
      .catch((e) => e)) as PkiError;
    expect(err.message).toMatch(
      /蔡宗翰's certificate .* was revoked on \d{4}-\d{2}-\d{2} \(keyCompromise\), per the CRL of .*GCA \(test\) issued/,
    );
    expect(err.details?.reason).toBe("keyCompromise");
  });

  it("the EC P-256 certificate validates for signing and (keyAgreement) for encryption", async () => {
    const c = cert("troubled/ec_p256/cert.pem");
    await expect(policy.validate(c, { purpose: "sign" })).resolves.toMatchObject({ path: [c, gca, root] });
    await expect(policy.validate(c, { purpose: "encrypt" })).resolves.toBeDefined();
  });

  it("an expired certificate is accepted at a time when it was valid (signing time), revocation still checked", async () => {
    const c = cert("troubled/expired/cert.pem");
    // The GCA and root were issued in 2025, so 2021 falls before them: the path fails on them, not on the EE.
    expect(await codeOf(policy.validate(c, { time: new Date("2021-06-01T00:00:00Z") }))).toBe("NOT_YET_VALID");
  });
});

describe("revocation modes and sources", () => {
  const chen = cert("people/soc-chen/sign.cert.pem");

  it("without any CRL, require => REVOCATION_UNAVAILABLE; warn => valid with a warning; off => no revocation", async () => {
    const require = createTrustPolicy({ anchors: [root], intermediates: [gca] });
    const err = (await require.validate(chen).catch((e) => e)) as PkiError;
    expect(err.code).toBe("REVOCATION_UNAVAILABLE");
    expect(err.message).toContain("GCA (test)");
    const warn = await createTrustPolicy({ anchors: [root], intermediates: [gca], revocation: "warn" }).validate(chen);
    expect(warn.warnings.length).toBe(2); // the GCA and the end entity
    expect(warn.warnings[1]).toContain("陳怡君");
    expect(warn.revocation?.source).toBe("none");
    const off = await createTrustPolicy({ anchors: [root], intermediates: [gca], revocation: "off" }).validate(chen);
    expect(off.revocation).toBeUndefined();
    expect(off.warnings).toEqual([]);
  });

  it("reads CRLs from a directory and notices a new file there", async () => {
    const dir = join(tmp, "crl-dir");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    writeFileSync(join(dir, "grca.crl"), bytes("root/grca.crl.pem"));
    const p = createTrustPolicy({ anchors: [root], intermediates: [gca], crlDir: dir });
    expect(await codeOf(p.validate(chen))).toBe("REVOCATION_UNAVAILABLE");
    writeFileSync(join(dir, "gca.crl.der"), bytes("intermediate/gca.crl.der"));
    await expect(p.validate(chen)).resolves.toMatchObject({ revocation: { source: "crl" } });
    expect(await codeOf(p.validate(cert("troubled/revoked/cert.pem")))).toBe("REVOKED");
  });

  it("the chain can come with the file (ValidateOptions.intermediates) instead of the policy", async () => {
    const p = createTrustPolicy({ anchors: [root], crls });
    expect(await codeOf(p.validate(chen))).toBe("UNTRUSTED");
    await expect(p.validate(chen, { intermediates: [gca] })).resolves.toBeDefined();
  });

  it("a certificate that is not a trust anchor and has no issuer is UNTRUSTED; the root itself is not a signer", async () => {
    const p = createTrustPolicy({ anchors: [gca], crls, revocation: "off" });
    // Anchored at the GCA, staff certificates validate without the root.
    await expect(p.validate(chen, { purpose: "sign" })).resolves.toMatchObject({ path: [chen, gca] });
    expect(
      await codeOf(
        createTrustPolicy({ anchors: [cert("troubled/impostor/cert.pem")], revocation: "off" }).validate(chen),
      ),
    ).toBe("UNTRUSTED");
  });
});

describe("validatePath and buildPaths", () => {
  const chen = cert("people/soc-chen/encrypt.cert.pem");
  it("validatePath checks exactly the given path (EE first, anchor last)", async () => {
    const r = await validatePath([chen, gca, root], { crls, purpose: "encrypt" });
    expect(r.revocation?.source).toBe("crl");
    expect(await codeOf(validatePath([chen, root], {}))).toBe("UNTRUSTED");
    expect(await codeOf(validatePath([chen, gca, root], { purpose: "sign" }))).toBe("KEY_USAGE");
  });
  it("buildPaths yields every candidate, including through a duplicate issuer, without loops", () => {
    const paths = [...buildPaths(chen, [root], [gca, gca, root, chen])];
    expect(paths.map((p) => p.length)).toEqual([3]);
    expect([...buildPaths(chen, [gca, root], [gca])].map((p) => p.length)).toEqual([2]);
  });
});

describe("cross-certificates", () => {
  // Two roots certify the same CA (same name and key): the builder must find the path to whichever root is trusted.
  const dir = join(tmp, "cross");
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const load = (f: string) => parseCertificate(new Uint8Array(readFileSync(join(dir, f))));
  let rootA: CertInfo;
  let rootB: CertInfo;
  let crossA: CertInfo;
  let crossB: CertInfo;
  let ee: CertInfo;

  it("openssl makes two roots, one CA certified by both, and a staff certificate", async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(["req", "-x509", ...ec, "-keyout", "a.key", "-subj", "/CN=Test Root A", "-days", "30", "-out", "a.pem"]);
    run(["req", "-x509", ...ec, "-keyout", "b.key", "-subj", "/CN=Test Root B", "-days", "30", "-out", "b.pem"]);
    writeFileSync(
      join(dir, "ca.ext"),
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    writeFileSync(
      join(dir, "ee.ext"),
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    run(["req", "-new", ...ec, "-keyout", "x.key", "-subj", "/CN=Test Cross CA", "-out", "x.csr"]);
    for (const r of ["a", "b"]) {
      run(
        [
          "x509",
          "-req",
          "-in",
          "x.csr",
          "-CA",
          `${r}.pem`,
          "-CAkey",
          `${r}.key`,
          "-set_serial",
          "7",
          "-days",
          "30",
        ].concat(["-extfile", "ca.ext", "-out", `x-by-${r}.pem`]),
      );
    }
    run(["req", "-new", "-utf8", ...ec, "-keyout", "ee.key", "-subj", "/CN=測試 王小明", "-out", "ee.csr"]);
    run(
      [
        "x509",
        "-req",
        "-in",
        "ee.csr",
        "-CA",
        "x-by-a.pem",
        "-CAkey",
        "x.key",
        "-set_serial",
        "9",
        "-days",
        "30",
      ].concat(["-extfile", "ee.ext", "-out", "ee.pem"]),
    );
    [rootA, rootB, crossA, crossB, ee] = ["a.pem", "b.pem", "x-by-a.pem", "x-by-b.pem", "ee.pem"].map(
      load,
    ) as CertInfo[];
    expect(ee.commonName).toBe("測試 王小明");
  });

  it("buildPaths offers both the path through root A and the path through root B", () => {
    const paths = [...buildPaths(ee, [rootA, rootB], [crossA, crossB])];
    expect(paths.map((p) => p.map((c) => c.sha256))).toEqual(
      expect.arrayContaining([
        [ee.sha256, crossA.sha256, rootA.sha256],
        [ee.sha256, crossB.sha256, rootB.sha256],
      ]),
    );
    expect(paths).toHaveLength(2);
  });

  it("validation takes the alternative when the first candidate does not lead to a trusted root", async () => {
    const viaB = await createTrustPolicy({
      anchors: [rootB],
      intermediates: [crossA, crossB],
      revocation: "off",
    }).validate(ee, {
      purpose: "sign",
    });
    expect(viaB.path.map((c) => c.sha256)).toEqual([ee.sha256, crossB.sha256, rootB.sha256]);
    const viaA = await createTrustPolicy({
      anchors: [rootA],
      intermediates: [crossB, crossA],
      revocation: "off",
    }).validate(ee);
    expect(viaA.path.map((c) => c.sha256)).toEqual([ee.sha256, crossA.sha256, rootA.sha256]);
    expect(
      await codeOf(
        createTrustPolicy({ anchors: [root], intermediates: [crossA, crossB], revocation: "off" }).validate(ee),
      ),
    ).toBe("UNTRUSTED");
  });
});

describe("RSA-PSS certificate signatures", () => {
  // The GCA key signs a staff certificate with RSA-PSS (openssl x509 -sigopt), as some CAs now do.
  const dir = join(tmp, "pss");
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const issue = (name: string, hash: string, salt: string) => {
    run(
      [
        "x509",
        "-req",
        "-in",
        "ee.csr",
        "-CA",
        join(pki, "intermediate/gca.cert.pem"),
        "-CAkey",
        join(pki, "intermediate/gca.key.pem"),
      ]
        .concat([
          "-set_serial",
          "0x51",
          "-days",
          "30",
          `-${hash}`,
          "-sigopt",
          "rsa_padding_mode:pss",
          "-sigopt",
          `rsa_pss_saltlen:${salt}`,
        ])
        .concat(["-extfile", "ee.ext", "-out", name]),
    );
    return parseCertificate(new Uint8Array(readFileSync(join(dir, name))));
  };
  const policy = createTrustPolicy({ anchors: [root], intermediates: [gca], revocation: "off" });

  it("SHA-256 and SHA-384 with their digest-length salts validate; a flipped signature bit is BAD_CERT_SIGNATURE", async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    run([
      "req",
      "-new",
      "-utf8",
      "-key",
      join(pki, "people/soc-chen/sign.key.pem"),
      "-subj",
      "/C=TW/CN=陳怡君 PSS",
      "-out",
      "ee.csr",
    ]);
    writeFileSync(
      join(dir, "ee.ext"),
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    for (const [hash, name] of [
      ["sha256", "pss256.pem"],
      ["sha384", "pss384.pem"],
    ] as const) {
      const c = issue(name, hash, "digest");
      const r = await policy.validate(c, { purpose: "sign" });
      expect(r.checks).toContain(`signature:RSA-PSS with ${hash.toUpperCase().replace("SHA", "SHA-")}`);
    }
    const good = parseCertificate(new Uint8Array(readFileSync(join(dir, "pss256.pem"))));
    const bad = new Uint8Array(good.der);
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 0x10;
    expect(await codeOf(policy.validate(parseCertificate(bad)))).toBe("BAD_CERT_SIGNATURE");
  });
});

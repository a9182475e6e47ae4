// Checks that every file of fixtures/pki (made by scripts/make-pki.sh) has the property other tests rely on, as
// judged by the openssl CLI: key usage, chain, validity, revocation, PKCS#12 encryption and PIN, name string types,
// and that each key belongs to its certificate. PINs reach openssl through the environment, never argv.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkiDir = path.join(repoRoot, "fixtures/pki");
const p = (rel: string) => path.join(pkiDir, rel);

interface Pair {
  cert: string;
  key: string;
  key_encrypted?: string;
}
interface Person {
  name: string;
  agency: string;
  role: "staff" | "admin" | "ops";
  email: string;
  sign: Pair;
  encrypt: Pair;
  p12: string;
  pin: string;
  /** Present for the EC staff ("ec"), with their curve. */
  keyType?: "ec";
  curve?: "P-256" | "P-384";
}
interface Troubled {
  cert: string;
  key: string;
  p12?: string;
  pin?: string;
  note: string;
}
interface Manifest {
  root: { cert: string };
  intermediate: { cert: string; crl: string; crl_expired: string; key: string; chain: string };
  agencies: Record<string, { name: string; email: string }>;
  people: Record<string, Person>;
  troubled: Record<string, Troubled>;
}

const manifest = JSON.parse(readFileSync(p("manifest.json"), "utf8")) as Manifest;
const people = Object.entries(manifest.people);
const TROUBLED_KINDS = [
  "expired",
  "not_yet_valid",
  "revoked",
  "on_hold",
  "sign_only_usage",
  "encrypt_only_usage",
  "rsa1024_sha1",
  "impostor",
  "ec_p256",
  "legacy_p12",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs openssl with argv (no shell); `pin` goes to the child as env PIN for `-passin env:PIN`. */
function openssl(args: string[], pin?: string): Promise<Run> {
  const env = { ...process.env, ...(pin === undefined ? {} : { PIN: pin }) };
  return new Promise((resolve) => {
    execFile("openssl", args, { env, encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[], pin?: string): Promise<string> {
  const r = await openssl(args, pin);
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/** The keyUsage line of a certificate ("critical" flag and the usage names). */
async function keyUsage(cert: string): Promise<{ critical: boolean; usages: string[] }> {
  const out = await ok(["x509", "-in", p(cert), "-noout", "-ext", "keyUsage"]);
  const [head, list] = out.trim().split("\n");
  return { critical: /critical/.test(head ?? ""), usages: (list ?? "").split(",").map((s) => s.trim()) };
}

function verifyArgs(cert: string, crl?: string): string[] {
  const args = ["verify", "-CAfile", p(manifest.root.cert), "-untrusted", p(manifest.intermediate.cert)];
  if (crl) args.push("-crl_check", "-CRLfile", p(crl));
  return [...args, p(cert)];
}

async function notAfter(cert: string): Promise<Date> {
  const out = await ok(["x509", "-in", p(cert), "-noout", "-enddate"]);
  return new Date(out.trim().replace(/^notAfter=/, ""));
}

/** SubjectPublicKeyInfo PEM of a certificate and of a private key (a PIN decrypts an encrypted key). */
async function certPub(cert: string): Promise<string> {
  return ok(["x509", "-in", p(cert), "-noout", "-pubkey"]);
}
async function keyPub(key: string, pin?: string): Promise<string> {
  const args = ["pkey", "-in", p(key), "-pubout"];
  if (pin !== undefined) args.push("-passin", "env:PIN");
  return ok(args, pin);
}

const END_OF_2099 = new Date("2099-12-31T00:00:00Z");

describe("manifest.json", () => {
  it("has root, intermediate (cert, crl, crl_expired), people and every troubled kind, with existing files", () => {
    expect(existsSync(p(manifest.root.cert))).toBe(true);
    for (const k of ["cert", "crl", "crl_expired", "key"] as const)
      expect(existsSync(p(manifest.intermediate[k]))).toBe(true);
    expect(Object.keys(manifest.troubled).sort()).toEqual([...TROUBLED_KINDS].sort());
    for (const [kind, t] of Object.entries(manifest.troubled)) {
      expect(t.note, kind).toMatch(/\S/);
      for (const f of [t.cert, t.key, ...(t.p12 ? [t.p12] : [])]) expect(existsSync(p(f)), `${kind}: ${f}`).toBe(true);
      if (t.p12) expect(t.pin, kind).toMatch(/\S/);
    }
  });

  it("lists people of both agencies plus an admin and an ops person, each complete, with distinct PINs", () => {
    expect(people.length).toBeGreaterThanOrEqual(6);
    const roles = new Set(people.map(([, x]) => x.role));
    expect(roles).toEqual(new Set(["staff", "admin", "ops"]));
    for (const code of ["KHH-SOC", "KHH-TAX"]) {
      expect(manifest.agencies[code]?.email).toMatch(/@.+\.example$/);
      expect(people.filter(([, x]) => x.agency === code && x.role === "staff").length).toBeGreaterThanOrEqual(2);
    }
    expect(manifest.agencies["KHH-SOC"]?.name).toBe("高雄市政府社會局");
    expect(manifest.agencies["KHH-TAX"]?.name).toBe("高雄市稅捐稽徵處");
    for (const [id, x] of people) {
      expect(id).toMatch(/^[a-z]+-[a-z]+$/);
      expect(x.name).toMatch(/^[\u4e00-\u9fff]{2,4}$/);
      expect(manifest.agencies[x.agency], id).toBeDefined();
      expect(x.email).toMatch(/^[a-z]+@[a-z.]+\.example$/);
      expect(x.pin.length).toBeGreaterThanOrEqual(8);
      for (const f of [x.sign.cert, x.sign.key, x.encrypt.cert, x.encrypt.key, x.p12]) {
        expect(existsSync(p(f)), `${id}: ${f}`).toBe(true);
      }
    }
    expect(new Set(people.map(([, x]) => x.pin)).size).toBe(people.length);
  });
});

describe("root and intermediate", () => {
  it("root is a self-signed RSA-4096 CA, intermediate an RSA-2048 CA under it, both valid past 2099", async () => {
    const root = await ok(["x509", "-in", p(manifest.root.cert), "-noout", "-text"]);
    expect(root).toContain("Public-Key: (4096 bit)");
    expect(root).toMatch(/CA:TRUE/);
    const inter = await ok(["x509", "-in", p(manifest.intermediate.cert), "-noout", "-text"]);
    expect(inter).toContain("Public-Key: (2048 bit)");
    expect(inter).toMatch(/CA:TRUE, pathlen:0/);
    expect((await openssl(verifyArgs(manifest.intermediate.cert))).code).toBe(0);
    expect((await notAfter(manifest.root.cert)).getTime()).toBeGreaterThan(END_OF_2099.getTime());
    expect((await notAfter(manifest.intermediate.cert)).getTime()).toBeGreaterThan(END_OF_2099.getTime());
    expect(await keyPub(manifest.intermediate.key)).toBe(await certPub(manifest.intermediate.cert));
  });

  it("the current CRL lasts past 2099; the expired CRL's nextUpdate is in the past", async () => {
    const next = async (crl: string) =>
      new Date((await ok(["crl", "-in", p(crl), "-noout", "-nextupdate"])).trim().replace(/^nextUpdate=/, ""));
    expect((await next(manifest.intermediate.crl)).getTime()).toBeGreaterThan(END_OF_2099.getTime());
    expect((await next(manifest.intermediate.crl_expired)).getTime()).toBeLessThan(Date.now());
    // openssl refuses a good certificate when the only CRL is the stale one.
    const r = await openssl(verifyArgs(manifest.people["soc-chen"]!.sign.cert, manifest.intermediate.crl_expired));
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("CRL has expired");
  });
});

describe.each(people)("person %s", (id, person) => {
  it("signing certificate: keyUsage critical digitalSignature + nonRepudiation only", async () => {
    expect(await keyUsage(person.sign.cert)).toEqual({
      critical: true,
      usages: ["Digital Signature", "Non Repudiation"],
    });
  });

  it("encryption certificate: keyUsage critical keyEncipherment + dataEncipherment only (EC: keyAgreement only)", async () => {
    expect(await keyUsage(person.encrypt.cert)).toEqual({
      critical: true,
      usages: person.keyType === "ec" ? ["Key Agreement"] : ["Key Encipherment", "Data Encipherment"],
    });
  });

  it("both certificates chain to the root, are not revoked, last past 2099 and carry SKI, AKI, CDP, OCSP", async () => {
    for (const cert of [person.sign.cert, person.encrypt.cert]) {
      const r = await openssl(verifyArgs(cert, manifest.intermediate.crl));
      expect(r.stdout.trim(), r.stderr).toBe(`${p(cert)}: OK`);
      expect((await notAfter(cert)).getTime()).toBeGreaterThan(END_OF_2099.getTime());
      const text = await ok(["x509", "-in", p(cert), "-noout", "-text"]);
      expect(text).toContain("X509v3 Subject Key Identifier");
      expect(text).toContain("X509v3 Authority Key Identifier");
      expect(text).toContain("URI:http://127.0.0.1:18080/crl/gca.crl");
      expect(text).toContain("OCSP - URI:http://127.0.0.1:18081");
      expect(text).toContain(`email:${person.email}`);
      if (person.keyType === "ec") {
        expect(text).toContain(`Public-Key: (${person.curve === "P-384" ? 384 : 256} bit)`);
        expect(text).toContain(`NIST CURVE: ${person.curve}`);
      } else expect(text).toContain("Public-Key: (2048 bit)");
    }
  });

  it("subject is C=TW, O=<agency>, OU=<code>, CN=<name> in the expected string type", async () => {
    const subject = await ok([
      "x509",
      "-in",
      p(person.sign.cert),
      "-noout",
      "-subject",
      "-nameopt",
      "RFC2253,-esc_msb",
    ]);
    expect(subject.trim()).toBe(
      `subject=CN=${person.name},OU=${person.agency},O=${manifest.agencies[person.agency]!.name},C=TW`,
    );
    const asn1 = await ok(["asn1parse", "-in", p(person.sign.cert)]);
    // The subject is the second Name; its CN is the last string of the certificate's names.
    const names = asn1.split("\n").filter((l) => /prim: (UTF8STRING|BMPSTRING|PRINTABLESTRING)/.test(l));
    const cnType = names.at(-1)?.match(/prim: (\w+)/)?.[1];
    expect(cnType).toBe(id === "tax-lee" ? "BMPSTRING" : "UTF8STRING");
  });

  it("each key matches its certificate", async () => {
    expect(await keyPub(person.sign.key)).toBe(await certPub(person.sign.cert));
    expect(await keyPub(person.encrypt.key)).toBe(await certPub(person.encrypt.cert));
    expect(await keyPub(person.sign.key)).not.toBe(await keyPub(person.encrypt.key));
  });

  it("PKCS#12 opens with the PIN (PBES2 AES-256-CBC, SHA-256 MAC, two keys) and not with a wrong PIN", async () => {
    const info = await openssl(["pkcs12", "-info", "-noout", "-in", p(person.p12), "-passin", "env:PIN"], person.pin);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toContain("MAC: sha256");
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    expect(info.stderr.match(/Shrouded Keybag/g)?.length).toBe(2);
    expect(info.stderr).not.toMatch(/3-KeyTripleDES|RC2/);
    const wrong = await openssl(["pkcs12", "-info", "-noout", "-in", p(person.p12), "-passin", "env:PIN"], "0000");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("Mac verify error");
    // Both key pairs come out: the two private keys are the sign and encrypt keys.
    const dump = await ok(["pkcs12", "-in", p(person.p12), "-nocerts", "-nodes", "-passin", "env:PIN"], person.pin);
    const keys = dump.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/g) ?? [];
    expect(keys.length).toBe(2);
  });
});

describe("encrypted PKCS#8 key", () => {
  const lin = manifest.people["soc-lin"]!;
  it("soc-lin's encrypted signing key opens with the PIN and matches the signing certificate", async () => {
    expect(lin.sign.key_encrypted).toBeDefined();
    const pem = readFileSync(p(lin.sign.key_encrypted!), "utf8");
    expect(pem).toContain("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    expect(await keyPub(lin.sign.key_encrypted!, lin.pin)).toBe(await certPub(lin.sign.cert));
    const wrong = await openssl(["pkey", "-in", p(lin.sign.key_encrypted!), "-passin", "env:PIN", "-noout"], "wrong");
    expect(wrong.code).not.toBe(0);
  });
});

describe("troubled certificates", () => {
  const t = (kind: string) => manifest.troubled[kind]!;

  it.each(TROUBLED_KINDS)("%s: key matches the certificate and its PKCS#12 opens with its PIN only", async (kind) => {
    expect(await keyPub(t(kind).key)).toBe(await certPub(t(kind).cert));
    const legacy = kind === "legacy_p12" ? ["-legacy"] : [];
    const args = ["pkcs12", "-info", "-noout", ...legacy, "-in", p(t(kind).p12!), "-passin", "env:PIN"];
    expect((await openssl(args, t(kind).pin)).code).toBe(0);
    expect((await openssl(args, "not-the-pin")).code).not.toBe(0);
  });

  it("expired: valid only in 2020-2021, openssl says certificate has expired", async () => {
    expect((await notAfter(t("expired").cert)).getUTCFullYear()).toBe(2021);
    const r = await openssl(verifyArgs(t("expired").cert));
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("certificate has expired");
  });

  it("not_yet_valid: openssl says certificate is not yet valid", async () => {
    const r = await openssl(verifyArgs(t("not_yet_valid").cert));
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("certificate is not yet valid");
  });

  it("revoked: chains fine, but with the current CRL openssl says certificate revoked (keyCompromise)", async () => {
    expect((await openssl(verifyArgs(t("revoked").cert))).code).toBe(0);
    const r = await openssl(verifyArgs(t("revoked").cert, manifest.intermediate.crl));
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("certificate revoked");
    const serial = (await ok(["x509", "-in", p(t("revoked").cert), "-noout", "-serial"])).trim().split("=")[1];
    const crl = await ok(["crl", "-in", p(manifest.intermediate.crl), "-noout", "-text"]);
    expect(crl).toMatch(new RegExp(`Serial Number: ${serial}[\\s\\S]*?CRL Reason Code:\\s+Key Compromise`));
  });

  it("on_hold: listed in the current CRL with reason Certificate Hold", async () => {
    const serial = (await ok(["x509", "-in", p(t("on_hold").cert), "-noout", "-serial"])).trim().split("=")[1];
    const crl = await ok(["crl", "-in", p(manifest.intermediate.crl), "-noout", "-text"]);
    expect(crl).toMatch(new RegExp(`Serial Number: ${serial}[\\s\\S]*?CRL Reason Code:\\s+Certificate Hold`));
    const r = await openssl(verifyArgs(t("on_hold").cert, manifest.intermediate.crl));
    expect(r.stdout + r.stderr).toContain("certificate revoked");
  });

  it("sign_only_usage has no keyEncipherment; encrypt_only_usage has no digitalSignature; both chain fine", async () => {
    expect((await keyUsage(t("sign_only_usage").cert)).usages).toEqual(["Digital Signature", "Non Repudiation"]);
    expect((await keyUsage(t("encrypt_only_usage").cert)).usages).toEqual(["Key Encipherment", "Data Encipherment"]);
    for (const kind of ["sign_only_usage", "encrypt_only_usage"]) {
      expect((await openssl(verifyArgs(t(kind).cert, manifest.intermediate.crl))).code).toBe(0);
    }
  });

  it("rsa1024_sha1: a 1024-bit RSA key in a certificate signed by the GCA with SHA-1", async () => {
    const text = await ok(["x509", "-in", p(t("rsa1024_sha1").cert), "-noout", "-text"]);
    expect(text).toContain("Public-Key: (1024 bit)");
    expect(text).toMatch(/Signature Algorithm: sha1WithRSAEncryption/);
    const issuer = await ok(["x509", "-in", p(t("rsa1024_sha1").cert), "-noout", "-issuer"]);
    expect(issuer).toContain("GCA (test)");
  });

  it("impostor: self-signed with soc-chen's exact subject, and not trusted", async () => {
    const subj = (cert: string) => ok(["x509", "-in", p(cert), "-noout", "-subject", "-issuer", "-nameopt", "RFC2253"]);
    const imp = (await subj(t("impostor").cert)).trim().split("\n");
    const real = (await subj(manifest.people["soc-chen"]!.sign.cert)).trim().split("\n");
    expect(imp[0]).toBe(real[0]);
    expect(imp[1]!.replace("issuer=", "")).toBe(imp[0]!.replace("subject=", ""));
    const r = await openssl(verifyArgs(t("impostor").cert));
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("self-signed certificate");
  });

  it("ec_p256: an EC P-256 key with a valid chain", async () => {
    const text = await ok(["x509", "-in", p(t("ec_p256").cert), "-noout", "-text"]);
    expect(text).toContain("NIST CURVE: P-256");
    expect((await openssl(verifyArgs(t("ec_p256").cert, manifest.intermediate.crl))).code).toBe(0);
  });

  it("legacy_p12: 3DES key bag, RC2-40 cert bag, SHA-1 MAC; openssl 3 needs -legacy to read it", async () => {
    const lp = t("legacy_p12");
    const info = await openssl(
      ["pkcs12", "-info", "-noout", "-legacy", "-in", p(lp.p12!), "-passin", "env:PIN"],
      lp.pin,
    );
    expect(info.stderr).toContain("MAC: sha1");
    expect(info.stderr).toContain("pbeWithSHA1And3-KeyTripleDES-CBC");
    expect(info.stderr).toContain("pbeWithSHA1And40BitRC2-CBC");
    const modern = await openssl(["pkcs12", "-info", "-noout", "-in", p(lp.p12!), "-passin", "env:PIN"], lp.pin);
    expect(modern.code).not.toBe(0);
    expect((await openssl(verifyArgs(lp.cert, manifest.intermediate.crl))).code).toBe(0);
  });
});

describe("CA database for OCSP", () => {
  const work = mkdtempSync(path.join(tmpdir(), "sealpost-ocsp-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("openssl ocsp -index answers good, revoked and on hold from ca-db/index.txt", async () => {
    const inter = p(manifest.intermediate.cert);
    const status = async (cert: string) => {
      const req = path.join(work, "req.der");
      const resp = path.join(work, "resp.der");
      await ok(["ocsp", "-issuer", inter, "-cert", p(cert), "-no_nonce", "-reqout", req]);
      await ok([
        "ocsp",
        "-index",
        p("ca-db/index.txt"),
        "-CA",
        inter,
        "-rsigner",
        inter,
        "-rkey",
        p(manifest.intermediate.key),
        "-reqin",
        req,
        "-respout",
        resp,
      ]);
      const out = await ok([
        "ocsp",
        "-respin",
        resp,
        "-issuer",
        inter,
        "-cert",
        p(cert),
        "-CAfile",
        p(manifest.root.cert),
        "-no_nonce",
      ]);
      return out
        .split("\n")
        .find((l) => l.startsWith(p(cert)))
        ?.split(": ")[1];
    };
    expect(await status(manifest.people["tax-wang"]!.encrypt.cert)).toBe("good");
    expect(await status(manifest.troubled.revoked!.cert)).toBe("revoked");
    expect(await status(manifest.troubled.on_hold!.cert)).toBe("revoked");
  });
});

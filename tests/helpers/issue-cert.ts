import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Test certificates made on the spot by the committed throwaway test GCA (fixtures/pki/intermediate), for cases the
 * fixture PKI does not hold, such as a certificate valid only in the past but within the CAs' validity. Uses the
 * openssl CLI (`openssl ca` with explicit start and end dates); the PIN of the PKCS#12 reaches openssl through the
 * environment, never argv. Every name is fictional test data.
 */
const pki = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures/pki");

export interface IssuedCert {
  cert: string;
  key: string;
  /** PKCS#12 with the key, the certificate and the chain (GCA, GRCA). */
  p12: string;
  pin: string;
}

export interface IssueOptions {
  /** Folder the files are written to (created). */
  dir: string;
  /** Name of the files (`<name>.cert.pem` ...). */
  name: string;
  /** The subject, e.g. "/C=TW/O=高雄市政府社會局/OU=KHH-SOC/CN=測試人員". */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** "sign" (digitalSignature, nonRepudiation; the default) or "encrypt" (keyEncipherment, dataEncipherment). */
  usage?: "sign" | "encrypt";
  /** An e-mail address for subjectAltName (rfc822Name). Default: no subjectAltName. */
  email?: string;
}

const asn1Time = (d: Date) => `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;

/** Issues an RSA-2048 end-entity certificate from the test GCA; returns the paths. */
export function issueTestCertificate(o: IssueOptions): IssuedCert {
  const work = join(o.dir, `${o.name}.ca`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, "index.txt"), "");
  writeFileSync(join(work, "serial"), `7e${randomBytes(7).toString("hex")}\n`);
  const usage = o.usage === "encrypt" ? "keyEncipherment, dataEncipherment" : "digitalSignature, nonRepudiation";
  const cnf = join(work, "ca.cnf");
  writeFileSync(
    cnf,
    `[ ca ]
default_ca = test_gca
[ test_gca ]
dir = ${work}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
certificate = ${join(pki, "intermediate/gca.cert.pem")}
private_key = ${join(pki, "intermediate/gca.key.pem")}
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
utf8 = yes
string_mask = utf8only
[ any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, ${usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://127.0.0.1:18080/crl/gca.crl
${o.email ? `subjectAltName = email:${o.email}\n` : ""}[ req ]
distinguished_name = dn
utf8 = yes
string_mask = utf8only
[ dn ]
`,
  );
  const key = join(o.dir, `${o.name}.key.pem`);
  const csr = join(work, "req.pem");
  const cert = join(o.dir, `${o.name}.cert.pem`);
  const p12 = join(o.dir, `${o.name}.p12`);
  const pin = `${o.name}-PIN-0000`;
  const run = (args: string[], env: Record<string, string> = {}) =>
    execFileSync("openssl", args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]);
  run(["req", "-new", "-utf8", "-config", cnf, "-key", key, "-subj", o.subject, "-out", csr]);
  run([
    "ca",
    "-batch",
    "-notext",
    "-config",
    cnf,
    "-extensions",
    "ext",
    "-startdate",
    asn1Time(o.notBefore),
    "-enddate",
    asn1Time(o.notAfter),
    "-in",
    csr,
    "-out",
    cert,
  ]);
  run(
    [
      "pkcs12",
      "-export",
      "-inkey",
      key,
      "-in",
      cert,
      "-certfile",
      join(pki, "intermediate/chain.pem"),
      "-name",
      o.name,
      "-keypbe",
      "AES-256-CBC",
      "-certpbe",
      "AES-256-CBC",
      "-macalg",
      "sha256",
      "-passout",
      "env:ISSUE_PIN",
      "-out",
      p12,
    ],
    { ISSUE_PIN: pin },
  );
  return { cert, key, p12, pin };
}

export interface CrlOptions {
  /** Folder the CRL is written to (created). */
  dir: string;
  name: string;
  /** "gca" (default: the fixture GCA's revocations, from fixtures/pki/ca-db) or "grca" (no entries). */
  issuer?: "gca" | "grca";
  thisUpdate: Date;
  nextUpdate: Date;
  /** The CRL number (must grow for a newer CRL of the same scope). */
  number: number;
  /** Another signer (a forger's CA certificate and key, PEM paths) in place of the fixture CA. */
  signer?: { cert: string; key: string };
  /** Certificates (PEM paths) this CRL revokes besides the fixture CA's own revocations (reason keyCompromise). */
  revoke?: string[];
}

/** A CRL of the test GCA (or GRCA) with the given dates, signed with the committed throwaway CA key; DER path. */
export function issueTestCrl(o: CrlOptions): string {
  const work = join(o.dir, `${o.name}.crl-ca`);
  mkdirSync(work, { recursive: true });
  const ca = o.issuer === "grca" ? "root/grca" : "intermediate/gca";
  const index = o.issuer === "grca" ? "" : readFileSync(join(pki, "ca-db/index.txt"), "utf8");
  writeFileSync(join(work, "index.txt"), index);
  writeFileSync(join(work, "index.txt.attr"), "unique_subject = no\n");
  writeFileSync(join(work, "crlnumber"), `${o.number.toString(16).padStart(2, "0")}\n`);
  const cnf = join(work, "ca.cnf");
  writeFileSync(
    cnf,
    `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${work}
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = ${o.signer?.cert ?? join(pki, `${ca}.cert.pem`)}
private_key = ${o.signer?.key ?? join(pki, `${ca}.key.pem`)}
default_md = sha256
`,
  );
  for (const cert of o.revoke ?? []) {
    execFileSync("openssl", ["ca", "-batch", "-config", cnf, "-revoke", cert, "-crl_reason", "keyCompromise"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
  const pem = join(work, "crl.pem");
  const der = join(o.dir, `${o.name}.crl`);
  execFileSync(
    "openssl",
    [
      "ca",
      "-batch",
      "-config",
      cnf,
      "-gencrl",
      "-crl_lastupdate",
      asn1Time(o.thisUpdate),
      "-crl_nextupdate",
      asn1Time(o.nextUpdate),
      "-out",
      pem,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  execFileSync("openssl", ["crl", "-in", pem, "-outform", "DER", "-out", der], { stdio: ["ignore", "pipe", "pipe"] });
  return der;
}

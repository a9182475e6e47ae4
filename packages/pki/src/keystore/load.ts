import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { issuedBy, looksLikePem, parseCertificates, readCertificates, sameCertificate } from "../cert.js";
import { PkiError } from "../errors.js";
import type { CertInfo, KeyEntry, Keystore } from "../types.js";
import { looksLikePkcs12, readPkcs12 } from "./pkcs12.js";
import { readPrivateKeys } from "./private-key.js";
import { SoftwareKey } from "../keys/software.js";
import { assertStrongCertificate } from "./strength.js";

/** Options of loadKeystore. */
export interface LoadKeystoreOptions {
  /**
   * PIN (password) of the PKCS#12 file or of an encrypted private key. Absent means no password: PKCS#12 files
   * written without a password (or with an empty one) open; encrypted keys fail with BAD_PIN.
   */
  pin?: string;
  /** Certificate file (PEM bundle or DER) for a PEM/DER private key; extra certificates for a PKCS#12 file. */
  certPath?: string;
}

async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PkiError("IO", `Cannot read the ${what} ${path} (${code ?? "read error"}).`, {
      cause: e,
      hint: "Check the path and that you may read the file.",
    });
  }
}

function spki(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ type: "spki", format: "der" }).toString("base64");
}

/** The chain of `leaf` from the other certificates, following issuer names (leaf excluded, anchor last if present). */
export function buildChain(leaf: CertInfo, pool: CertInfo[]): CertInfo[] {
  const chain: CertInfo[] = [];
  let current = leaf;
  while (!current.selfIssued && chain.length < 10) {
    const parent = pool.find(
      (c) => !sameCertificate(c, current) && !chain.some((x) => sameCertificate(x, c)) && issuedBy(current, c),
    );
    if (!parent || sameCertificate(parent, leaf)) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}

/**
 * Pairs each private key with the certificate holding its public key (the most recent one when a key was
 * re-certified) and builds its chain from the remaining certificates. Keys without a certificate are left out;
 * when none is left, PkiError NO_KEY.
 */
export function matchKeysToCertificates(source: string, keys: KeyObject[], certs: CertInfo[]): Keystore {
  const entries: KeyEntry[] = [];
  const certKeys = certs.map((c) => spki(c.publicKey));
  for (const privateKey of keys) {
    const want = spki(privateKey);
    const matching = certs.filter((_, i) => certKeys[i] === want);
    matching.sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime());
    const cert = matching[0];
    if (!cert) continue;
    const entry: KeyEntry = { privateKey, cert, chain: buildChain(cert, certs) };
    const t = privateKey.asymmetricKeyType;
    if (t === "rsa" || t === "ec") entry.key = new SoftwareKey(privateKey, `key in ${source}`);
    entries.push(entry);
  }
  if (entries.length === 0) {
    throw new PkiError(
      "NO_KEY",
      keys.length === 0
        ? `The keystore ${source} holds no private key.`
        : `The keystore ${source} holds no certificate for its private key.`,
      {
        hint:
          keys.length === 0
            ? "Give the keystore (.p12) or private key file that holds your key."
            : "Give the certificate that belongs to this key with --cert (a PEM or DER file).",
      },
    );
  }
  return { source, entries };
}

/**
 * Opens a keystore: a PKCS#12 file (.p12/.pfx: PBES2 or legacy 3DES/RC2; the MAC is always verified), or a PEM/DER
 * private key (PKCS#1/PKCS#8/SEC1, encrypted or not) with its certificate in `certPath` (or in the same PEM file).
 * Every entry must meet sealpost's floor (RSA >= 2048 bits, no SHA-1/MD5 certificate signatures).
 * Throws PkiError IO, MALFORMED, BAD_PIN, UNSUPPORTED_ALGORITHM, NO_KEY, WEAK_KEY or WEAK_ALGORITHM.
 */
export async function loadKeystore(path: string, options: LoadKeystoreOptions = {}): Promise<Keystore> {
  const bytes = await readBytes(path, "keystore file");
  const extraCerts = options.certPath ? await readCertificates(options.certPath) : [];
  let keys: KeyObject[];
  let certs: CertInfo[];
  if (looksLikePem(bytes)) {
    const text = Buffer.from(bytes).toString("utf8");
    keys = readPrivateKeys(bytes, options.pin);
    certs = /-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----/.test(text) ? parseCertificates(text) : [];
  } else if (looksLikePkcs12(bytes)) {
    const p12 = readPkcs12(bytes, options.pin ?? null);
    keys = p12.keys.map((k) => k.privateKey);
    certs = p12.certs.map((c) => c.cert);
  } else {
    keys = readPrivateKeys(bytes, options.pin);
    certs = [];
  }
  const ks = matchKeysToCertificates(path, keys, [...certs, ...extraCerts]);
  for (const e of ks.entries) assertStrongCertificate(e.cert);
  return ks;
}

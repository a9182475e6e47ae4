import { createPrivateKey, type KeyObject, timingSafeEqual } from "node:crypto";
import * as asn1js from "asn1js";
import { parseCertificate } from "../cert.js";
import { PkiError } from "../errors.js";
import { decodeStringValue } from "../names.js";
import type { CertInfo } from "../types.js";
import { algorithm, type Block, children, decode, explicit, malformed, octets, oid, smallInt } from "./asn1.js";
import { KdfBudget } from "./kdf-budget.js";
import { algorithmOid, DecryptionFailed, OID_PBMAC1, type Password, pbeCost, pbeDecrypt, pfxMac } from "./pbe.js";

/**
 * PKCS#12 (RFC 7292) reader: password-integrity PFX files with data / encryptedData safes, key bags, shrouded key
 * bags, certificate bags and nested safe-contents bags. The MAC is always verified before anything is decrypted; a
 * file without a MAC, or in public-key integrity/privacy mode, is refused. Before any key derivation runs, the KDFs
 * the file shows without decryption (the MAC, encrypted safes, shrouded keys in plain safes) are charged to a trial
 * KdfBudget; the run itself charges each KDF, those found inside encrypted safes included, to the file's budget. No policy (key size, algorithms) is applied
 * here: loadKeystore does that.
 */

const OID_DATA = "1.2.840.113549.1.7.1";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3";
const OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6";
const BAG_KEY = "1.2.840.113549.1.12.10.1.1";
const BAG_SHROUDED_KEY = "1.2.840.113549.1.12.10.1.2";
const BAG_CERT = "1.2.840.113549.1.12.10.1.3";
const BAG_SAFE_CONTENTS = "1.2.840.113549.1.12.10.1.6";
const CERT_X509 = "1.2.840.113549.1.9.22.1";
const ATTR_FRIENDLY_NAME = "1.2.840.113549.1.9.20";
const ATTR_LOCAL_KEY_ID = "1.2.840.113549.1.9.21";

/** Bag attributes that link keys to certificates. */
export interface BagAttributes {
  friendlyName: string | undefined;
  localKeyIdHex: string | undefined;
}

/** What a PKCS#12 file holds, decrypted, in file order. */
export interface Pkcs12Contents {
  keys: (BagAttributes & { privateKey: KeyObject })[];
  certs: (BagAttributes & { cert: CertInfo })[];
  /** "hmac-sha1", "hmac-sha256", "pbmac1-hmac-sha512" ... */
  mac: string;
  /** Encryption algorithm OIDs met in encrypted safes and shrouded key bags. */
  encryptionAlgorithms: string[];
}

function badPin(cause?: unknown): PkiError {
  return new PkiError("BAD_PIN", "The PIN (password) does not open this keystore.", {
    cause,
    hint: "Type the PIN again; after repeated failures ask your administrator. The PIN is never shown or logged.",
  });
}

function parseAttributes(b: Block | undefined): BagAttributes {
  const out: BagAttributes = { friendlyName: undefined, localKeyIdHex: undefined };
  if (!b) return out;
  for (const attr of children(b, "bag attributes")) {
    const [type, values] = children(attr, "bag attribute", 2, 2);
    const t = oid(type, "bag attribute type");
    const v = children(values, "bag attribute values", 0)[0];
    if (!v) continue;
    if (t === ATTR_FRIENDLY_NAME && v.idBlock.tagClass === 1 && !v.idBlock.isConstructed) {
      const content = v.valueBeforeDecodeView.subarray(v.idBlock.blockLength + v.lenBlock.blockLength);
      out.friendlyName = decodeStringValue(v.idBlock.tagNumber, content);
    } else if (t === ATTR_LOCAL_KEY_ID) {
      out.localKeyIdHex = Buffer.from(octets(v, "localKeyId")).toString("hex");
    }
  }
  return out;
}

function privateKeyFromPkcs8(der: Uint8Array, encrypted: boolean): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  } catch (e) {
    // After a verified MAC a key that does not parse means a damaged file, or a bag encrypted under another password.
    if (encrypted) throw badPin(e);
    throw malformed("private key in the keystore", e);
  }
}

interface Walk {
  password: Password;
  out: Pkcs12Contents;
  depth: number;
  budget: KdfBudget;
}

function decryptOrBadPin(alg: Block | undefined, w: Walk, data: Uint8Array): Buffer {
  try {
    return pbeDecrypt(alg, w.password, data, w.budget);
  } catch (e) {
    if (e instanceof DecryptionFailed) throw badPin(e);
    throw e;
  }
}

function walkSafeContents(der: Uint8Array, w: Walk): void {
  if (w.depth > 8) throw malformed("PKCS#12 file (safe contents nested too deeply)");
  const bags = children(decode(der, "PKCS#12 safe contents"), "PKCS#12 safe contents");
  for (const bag of bags) {
    const c = children(bag, "PKCS#12 bag", 2, 3);
    const bagId = oid(c[0], "PKCS#12 bag type");
    const value = explicit(c[1], 0, "PKCS#12 bag value");
    const attrs = parseAttributes(c[2]);
    if (bagId === BAG_KEY) {
      w.out.keys.push({
        ...attrs,
        privateKey: privateKeyFromPkcs8(new Uint8Array(value.valueBeforeDecodeView), false),
      });
    } else if (bagId === BAG_SHROUDED_KEY) {
      const [alg, data] = children(value, "encrypted private key", 2, 2);
      w.out.encryptionAlgorithms.push(algorithmOid(alg));
      const plain = decryptOrBadPin(alg, w, octets(data, "encrypted private key"));
      w.out.keys.push({ ...attrs, privateKey: privateKeyFromPkcs8(plain, true) });
    } else if (bagId === BAG_CERT) {
      const [certType, certValue] = children(value, "certificate bag", 2, 2);
      if (oid(certType, "certificate bag type") !== CERT_X509) continue; // SDSI certificates: ignored
      const certDer = octets(explicit(certValue, 0, "certificate bag value"), "certificate bag value");
      w.out.certs.push({ ...attrs, cert: parseCertificate(certDer) });
    } else if (bagId === BAG_SAFE_CONTENTS) {
      walkSafeContents(new Uint8Array(value.valueBeforeDecodeView), { ...w, depth: w.depth + 1 });
    }
    // CRL and secret bags carry nothing sealpost uses.
  }
}

/** ContentInfo of the authenticated safe: returns the octets of its data content (or throws for other types). */
function dataContent(ci: Block | undefined, what: string): Uint8Array {
  const c = children(ci, what, 1, 2);
  const type = oid(c[0], what);
  if (type === OID_SIGNED_DATA) {
    throw new PkiError("UNSUPPORTED_ALGORITHM", "This PKCS#12 file uses public-key integrity mode, not a PIN.", {
      hint: "Export the keystore again protected by a PIN (password).",
    });
  }
  if (type !== OID_DATA) throw malformed(what);
  return octets(explicit(c[1], 0, what), what);
}

/** Splits the file into its authenticated-safe octets and MAC data; checks version and content types. */
function parsePfx(der: Uint8Array): { authSafe: Uint8Array; macData: Block[] | undefined } {
  const pfx = children(decode(der, "PKCS#12 file"), "PKCS#12 file", 2, 3);
  if (smallInt(pfx[0], "PKCS#12 version") !== 3) throw malformed("PKCS#12 file (version is not 3)");
  const authSafe = dataContent(pfx[1], "PKCS#12 authenticated safe");
  const macData = pfx[2] ? children(pfx[2], "PKCS#12 MAC data", 2, 3) : undefined;
  return { authSafe, macData };
}

/** True when the bytes parse as the outer structure of a PFX (used to tell .p12 files from key files). */
export function looksLikePkcs12(der: Uint8Array): boolean {
  try {
    const pfx = children(decode(der, "PKCS#12 file"), "PKCS#12 file", 2, 3);
    return (
      pfx[0] instanceof asn1js.Integer &&
      smallInt(pfx[0], "v") === 3 &&
      oid(children(pfx[1], "ci", 1, 2)[0], "ci").startsWith("1.2.840.113549.1.7.")
    );
  } catch {
    return false;
  }
}

/**
 * Verifies the MAC for `password`; when the password is "" or absent, also tries the other form (an absent password
 * is an empty byte string for the KDF, an empty one is the 2-byte BMP terminator), as OpenSSL does. Returns the
 * password form that verified, or throws BAD_PIN. The comparison is constant time.
 */
function macCandidates(password: Password): Password[] {
  return password === null || password === "" ? [password, password === null ? "" : null] : [password];
}

function parseMac(macData: Block[]) {
  const [digestInfo, saltBlock, iterBlock] = macData;
  const [macAlg, digest] = children(digestInfo, "PKCS#12 MAC", 2, 2);
  const expected = octets(digest, "PKCS#12 MAC value");
  const salt = octets(saltBlock, "PKCS#12 MAC salt");
  const iterations = iterBlock ? smallInt(iterBlock, "PKCS#12 MAC iterations") : 1;
  const alg = algorithm(macAlg, "PKCS#12 MAC algorithm");
  return { alg, expected, mac: pfxMac(macAlg, salt, iterations) };
}

function verifyMac(
  macData: Block[],
  authSafe: Uint8Array,
  password: Password,
  budget: KdfBudget,
): { password: Password; mac: string } {
  const { alg, expected, mac } = parseMac(macData);
  for (const candidate of macCandidates(password)) {
    budget.charge(mac.cost);
    const actual = mac.compute(candidate, authSafe);
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) {
      return { password: candidate, mac: alg.oid === OID_PBMAC1 ? "pbmac1" : `hmac-${alg.oid}` };
    }
  }
  throw badPin();
}

const MAC_NAMES: Record<string, string> = {
  "hmac-1.3.14.3.2.26": "hmac-sha1",
  "hmac-2.16.840.1.101.3.4.2.4": "hmac-sha224",
  "hmac-2.16.840.1.101.3.4.2.1": "hmac-sha256",
  "hmac-2.16.840.1.101.3.4.2.2": "hmac-sha384",
  "hmac-2.16.840.1.101.3.4.2.3": "hmac-sha512",
};

/** Charges every shrouded key bag of plain safe contents (nested ones included) to `budget`. */
function planSafeContents(der: Uint8Array, budget: KdfBudget, depth: number): void {
  if (depth > 8) throw malformed("PKCS#12 file (safe contents nested too deeply)");
  for (const bag of children(decode(der, "PKCS#12 safe contents"), "PKCS#12 safe contents")) {
    const c = children(bag, "PKCS#12 bag", 2, 3);
    const bagId = oid(c[0], "PKCS#12 bag type");
    const value = explicit(c[1], 0, "PKCS#12 bag value");
    if (bagId === BAG_SHROUDED_KEY) budget.charge(pbeCost(children(value, "encrypted private key", 2, 2)[0]));
    else if (bagId === BAG_SAFE_CONTENTS)
      planSafeContents(new Uint8Array(value.valueBeforeDecodeView), budget, depth + 1);
  }
}

/**
 * Charges to a trial budget every KDF the file shows without decryption: the MAC (once per password form tried),
 * each encrypted safe and each shrouded key bag of the plain safes. Throws PkiError KDF_LIMIT before any derivation
 * when they already exceed the limits.
 */
function planKdfs(macData: Block[], authSafe: Uint8Array, password: Password): void {
  const plan = new KdfBudget();
  const { mac } = parseMac(macData);
  for (const _ of macCandidates(password)) plan.charge(mac.cost);
  for (const ci of children(decode(authSafe, "PKCS#12 authenticated safe"), "PKCS#12 authenticated safe")) {
    const c = children(ci, "PKCS#12 safe", 1, 2);
    const type = oid(c[0], "PKCS#12 safe type");
    if (type === OID_DATA) {
      planSafeContents(octets(explicit(c[1], 0, "PKCS#12 safe"), "PKCS#12 safe"), plan, 0);
    } else if (type === OID_ENCRYPTED_DATA) {
      const ed = children(explicit(c[1], 0, "PKCS#12 encrypted safe"), "PKCS#12 encrypted safe", 2, 3);
      plan.charge(pbeCost(children(ed[1], "PKCS#12 encrypted content info", 3, 3)[1]));
    }
  }
}

/**
 * Opens a PKCS#12 file with a password (null = absent). The MAC is verified first (constant-time compare); a wrong
 * password gives PkiError BAD_PIN, a damaged file MALFORMED, an unknown algorithm UNSUPPORTED_ALGORITHM, key
 * derivation beyond KDF_LIMITS KDF_LIMIT (before any derivation when the file shows it without decryption).
 */
export function readPkcs12(der: Uint8Array, password: Password): Pkcs12Contents {
  const { authSafe, macData } = parsePfx(der);
  if (!macData) {
    throw new PkiError("MALFORMED", "This PKCS#12 file has no integrity check (MAC); sealpost does not open it.", {
      hint: "Export the keystore again with a PIN, e.g. `openssl pkcs12 -export`.",
    });
  }
  planKdfs(macData, authSafe, password);
  const budget = new KdfBudget();
  const verified = verifyMac(macData, authSafe, password, budget);
  const out: Pkcs12Contents = {
    keys: [],
    certs: [],
    mac: MAC_NAMES[verified.mac] ?? verified.mac,
    encryptionAlgorithms: [],
  };
  const w: Walk = { password: verified.password, out, depth: 0, budget };
  for (const ci of children(decode(authSafe, "PKCS#12 authenticated safe"), "PKCS#12 authenticated safe")) {
    const c = children(ci, "PKCS#12 safe", 1, 2);
    const type = oid(c[0], "PKCS#12 safe type");
    if (type === OID_DATA) {
      walkSafeContents(octets(explicit(c[1], 0, "PKCS#12 safe"), "PKCS#12 safe"), w);
    } else if (type === OID_ENCRYPTED_DATA) {
      const ed = children(explicit(c[1], 0, "PKCS#12 encrypted safe"), "PKCS#12 encrypted safe", 2, 3);
      const eci = children(ed[1], "PKCS#12 encrypted content info", 3, 3);
      out.encryptionAlgorithms.push(algorithmOid(eci[1]));
      const data = octets(eci[2], "PKCS#12 encrypted content", true);
      walkSafeContents(decryptOrBadPin(eci[1], w, data), w);
    } else if (type === OID_ENVELOPED_DATA) {
      throw new PkiError("UNSUPPORTED_ALGORITHM", "This PKCS#12 file uses public-key privacy mode, not a PIN.", {
        hint: "Export the keystore again protected by a PIN (password).",
      });
    } else {
      throw malformed("PKCS#12 safe (unknown content type)");
    }
  }
  if (out.keys.length === 0 && out.certs.length === 0)
    throw malformed("PKCS#12 file (it holds no key and no certificate)");
  return out;
}

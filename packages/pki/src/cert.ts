import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { BerError, type BerLimits, type BerNode, decodeBer, scanBer } from "./ber.js";
import { PkiError } from "./errors.js";
import { keySizes } from "./key-details.js";
import { CERT_LIMITS, oidFromContent, timeOf } from "./trust/der.js";
import { bytesEqual, commonNameOf, namesEqual, nameToString, parsedNamesEqual, parseName } from "./names.js";
import { KEY_USAGE_BITS } from "./trust/x509.js";
import type { CertInfo } from "./types.js";

/**
 * X.509 certificate parsing: DER or PEM in, CertInfo out. The bounded BER decoder (ber.ts) reads the structure; node:crypto builds the
 * public KeyObject from the exact SubjectPublicKeyInfo bytes. Parsing checks structure only: signatures, validity and
 * path rules are the trust module's job.
 */

/** One PEM block: its label ("CERTIFICATE", "PRIVATE KEY" ...) and decoded bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Every PEM block of a text, in order, optionally only those with one of `labels`. Headers inside a block
 * ("Proc-Type: ...") are skipped; the base64 body must be well-formed or PkiError MALFORMED is thrown.
 */
export function decodePem(text: string, labels?: string[]): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const label = m[1]!;
    if (labels && !labels.includes(label)) continue;
    const body = m[2]!
      .split(/\r?\n/)
      .filter((l) => !l.includes(":"))
      .join("")
      .replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new PkiError("MALFORMED", `A PEM "${label}" block is damaged (its base64 text is not valid).`, {
        hint: "Export the file again from its source.",
      });
    }
    out.push({ label, der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  return out;
}

/** True when the bytes look like PEM text rather than DER (they start, after whitespace, with "-----BEGIN"). */
export function looksLikePem(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) return looksLikePem(bytes.subarray(i + 3));
  return Buffer.from(bytes.subarray(i, i + 10)).toString("latin1") === "-----BEGIN";
}

const CERT_LABELS = ["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"];

const OID_KEY_USAGE = "2.5.29.15";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_SUBJECT_KEY_ID = "2.5.29.14";

const CURVE_BITS: Record<string, number> = {
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

function malformed(detail: string, cause?: unknown): PkiError {
  return new PkiError("MALFORMED", `This is not a valid X.509 certificate: ${detail}.`, {
    cause,
    hint: "Check that the file is a certificate (PEM or DER) and not damaged; ask its issuer for a fresh copy.",
  });
}

/** Limits of a certs-only bundle: 1 MiB and 65,536 elements (a few dozen certificates). */
const BUNDLE_LIMITS: BerLimits = { maxBytes: 1024 * 1024, maxNodes: 65_536 };

/** Checks size, element count and nesting before asn1js/pkijs see the bytes (they are much slower per element). */
function bounded(der: Uint8Array, limits: BerLimits, what: string): void {
  try {
    scanBer(der, limits);
  } catch (e) {
    if (e instanceof BerError) throw malformed(`${what} cannot be read (${e.message})`, e);
    throw e;
  }
}

function hex(b: Uint8Array | ArrayBuffer): string {
  return Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
}

/** An extension value (the content of extnValue) decoded within the small-structure limits. */
function extValue(v: Uint8Array, what: string): BerNode {
  try {
    return decodeBer(v, { maxBytes: CERT_LIMITS.maxBytes, maxNodes: CERT_LIMITS.maxNodes });
  } catch (e) {
    throw malformed(`the ${what} extension is damaged`, e);
  }
}

function parseKeyUsage(v: Uint8Array): Set<string> {
  const n = extValue(v, "keyUsage");
  if (n.tag !== 0x03 || n.content.length === 0 || n.content[0]! > 7)
    throw malformed("the keyUsage extension is damaged");
  const bits = n.content.subarray(1);
  const total = bits.length * 8 - n.content[0]!;
  const set = new Set<string>();
  for (let i = 0; i < total && i < KEY_USAGE_BITS.length; i++) {
    if ((bits[i >> 3]! >> (7 - (i & 7))) & 1) set.add(KEY_USAGE_BITS[i]!);
  }
  return set;
}

function parseBasicConstraintsCA(v: Uint8Array): boolean {
  const n = extValue(v, "basicConstraints");
  if (n.tag !== 0x30) throw malformed("the basicConstraints extension is damaged");
  const first = n.children[0];
  return first?.tag === 0x01 && first.content.length === 1 && first.content[0] !== 0;
}

function parseSubjectKeyId(v: Uint8Array): string {
  const n = extValue(v, "subjectKeyIdentifier");
  if (n.tag !== 0x04) throw malformed("the subjectKeyIdentifier extension is damaged");
  return hex(n.content);
}

function oidOfNode(n: BerNode | undefined, what: string): string {
  if (n?.tag !== 0x06) throw malformed(`${what} is not an OBJECT IDENTIFIER`);
  try {
    return oidFromContent(n.content);
  } catch (e) {
    throw malformed(`${what} is not a valid OBJECT IDENTIFIER`, e);
  }
}

function timeOfNode(n: BerNode | undefined, what: string): Date {
  try {
    const d = timeOf(n, what);
    if (Number.isNaN(d.getTime())) throw new Error(`${what} is not a valid date`);
    return d;
  } catch (e) {
    throw malformed(`the ${what} time cannot be read`, e);
  }
}

/** The pkijs view of a certificate (for modules that need extensions CertInfo does not carry). */
export function toPkijsCertificate(cert: CertInfo | Uint8Array): pkijs.Certificate {
  const der = cert instanceof Uint8Array ? cert : cert.der;
  return pkijs.Certificate.fromBER(der);
}

/** Parses one DER certificate; the bytes must be exactly one certificate (no trailing data). */
function parseDer(der: Uint8Array): CertInfo {
  let top: BerNode;
  try {
    top = decodeBer(der, CERT_LIMITS);
  } catch (e) {
    if (e instanceof BerError && e.message.includes("after the structure")) {
      throw malformed("there are extra bytes after the certificate", e);
    }
    throw malformed(`the DER encoding cannot be read (${e instanceof Error ? e.message : e})`, e);
  }
  if (top.tag !== 0x30 || top.children.length !== 3) {
    throw malformed("the outer structure is not Certificate ::= SEQUENCE { tbs, algorithm, signature }");
  }
  const [tbs, sigAlg, sigBits] = top.children as [BerNode, BerNode, BerNode];
  if (tbs.tag !== 0x30) throw malformed("tbsCertificate is not a SEQUENCE");
  if (sigAlg.tag !== 0x30 || sigBits.tag !== 0x03) throw malformed("the signature fields are not well-formed");
  const signatureAlgorithmOid = oidOfNode(sigAlg.children[0], "the signature algorithm");
  const fields = tbs.children;
  let i = 0;
  if (fields[0]?.tag === 0xa0) i = 1;
  const serialBlock = fields[i];
  const tbsSigAlg = fields[i + 1];
  const issuerBlock = fields[i + 2];
  const validity = fields[i + 3];
  const subjectBlock = fields[i + 4];
  const spkiBlock = fields[i + 5];
  if (serialBlock?.tag !== 0x02 || serialBlock.content.length === 0)
    throw malformed("the serial number is not an INTEGER");
  if (!issuerBlock || !subjectBlock || !spkiBlock || !validity || !tbsSigAlg)
    throw malformed("tbsCertificate is incomplete");
  if (tbsSigAlg.tag !== 0x30 || issuerBlock.tag !== 0x30 || subjectBlock.tag !== 0x30 || spkiBlock.tag !== 0x30) {
    throw malformed("its fields do not match the X.509 structure");
  }
  if (validity.tag !== 0x30 || validity.children.length !== 2) throw malformed("the validity is not well-formed");
  const notBefore = timeOfNode(validity.children[0], "notBefore");
  const notAfter = timeOfNode(validity.children[1], "notAfter");
  let extensions: BerNode | undefined;
  for (const f of fields.slice(i + 6)) {
    if (f.tag === 0xa3) {
      if (extensions || f.children.length !== 1 || f.children[0]!.tag !== 0x30) {
        throw malformed("the extensions are not well-formed");
      }
      extensions = f.children[0];
    } else if (f.tag !== 0x81 && f.tag !== 0x82 && f.tag !== 0xa1 && f.tag !== 0xa2) {
      throw malformed("tbsCertificate has unexpected fields");
    }
  }

  const issuerDer = new Uint8Array(issuerBlock.raw);
  const subjectDer = new Uint8Array(subjectBlock.raw);
  const subjectName = parseName(subjectDer, "certificate subject");
  const issuerName = parseName(issuerDer, "certificate issuer");
  const spkiDer = Buffer.from(spkiBlock.raw);

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  } catch (e) {
    let alg = "unknown";
    try {
      alg = oidOfNode(spkiBlock.children[0]?.children[0], "the public key algorithm");
    } catch {
      // reported as unknown
    }
    throw new PkiError("UNSUPPORTED_ALGORITHM", `The certificate's public key (algorithm ${alg}) cannot be used.`, {
      cause: e,
      hint: "sealpost works with RSA (and EC) keys; ask for a certificate with an RSA-2048 key.",
      details: { algorithm: alg },
    });
  }
  const keyType = publicKey.asymmetricKeyType ?? "unknown";
  const details = keySizes(publicKey);
  let keyBits: number | undefined = details?.modulusLength;
  if (keyBits === undefined && details?.namedCurve) keyBits = CURVE_BITS[details.namedCurve];

  let keyUsage: Set<string> | undefined;
  let isCA = false;
  let subjectKeyIdHex: string | undefined;
  for (const ext of extensions?.children ?? []) {
    const [id, second, third] = ext.children;
    const value = third ?? second;
    if (ext.tag !== 0x30 || value?.tag !== 0x04 || (third && second?.tag !== 0x01)) {
      throw malformed("an extension is not well-formed");
    }
    const extnID = oidOfNode(id, "an extension's type");
    if (extnID === OID_KEY_USAGE) keyUsage = parseKeyUsage(value.content);
    else if (extnID === OID_BASIC_CONSTRAINTS) isCA = parseBasicConstraintsCA(value.content);
    else if (extnID === OID_SUBJECT_KEY_ID) subjectKeyIdHex = parseSubjectKeyId(value.content);
  }

  const copy = new Uint8Array(der);
  return {
    der: copy,
    subject: nameToString(subjectName),
    commonName: commonNameOf(subjectName),
    issuer: nameToString(issuerName),
    issuerDer,
    subjectDer,
    serialHex: hex(serialBlock.content),
    notBefore,
    notAfter,
    keyUsage,
    subjectKeyIdHex,
    publicKey,
    keyType,
    keyBits,
    signatureAlgorithmOid,
    sha256: createHash("sha256").update(copy).digest("hex"),
    sha1: createHash("sha1").update(copy).digest("hex"),
    isCA,
    selfIssued: bytesEqual(issuerDer, subjectDer) || parsedNamesEqual(issuerName, subjectName),
  };
}

function wrap(e: unknown): never {
  if (e instanceof PkiError) throw e;
  throw malformed("it could not be decoded", e);
}

/**
 * Parses one certificate: DER bytes, or PEM (string or bytes; the first CERTIFICATE block is used).
 * Throws PkiError MALFORMED (or UNSUPPORTED_ALGORITHM for a public key node:crypto cannot load).
 */
export function parseCertificate(input: Uint8Array | string): CertInfo {
  try {
    if (typeof input === "string" || looksLikePem(input)) {
      const text = typeof input === "string" ? input : Buffer.from(input).toString("utf8");
      const block = decodePem(text, CERT_LABELS)[0];
      if (!block) throw malformed("no CERTIFICATE block was found in the PEM text");
      return parseDer(block.der);
    }
    return parseDer(input);
  } catch (e) {
    return wrap(e);
  }
}

const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";

/**
 * The certificates of a PKCS#7 / CMS "certs-only" SignedData (.p7b/.p7c, as CAs publish chains), or undefined when
 * the DER is not a SignedData ContentInfo.
 */
function certsOnlyBundle(der: Uint8Array): CertInfo[] | undefined {
  bounded(der, BUNDLE_LIMITS, "the PKCS#7 bundle");
  const r = asn1js.fromBER(der, { maxNodes: BUNDLE_LIMITS.maxNodes });
  if (r.offset !== der.length || !(r.result instanceof asn1js.Sequence)) return undefined;
  const [type, content] = r.result.valueBlock.value;
  if (!(type instanceof asn1js.ObjectIdentifier) || type.valueBlock.toString() !== OID_SIGNED_DATA) return undefined;
  const sd = (content?.valueBlock as unknown as { value?: asn1js.AsnType[] })?.value?.[0];
  if (!(sd instanceof asn1js.Sequence)) throw malformed("the PKCS#7 bundle is damaged");
  const certSet = sd.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
  const members = (certSet?.valueBlock as unknown as { value?: asn1js.AsnType[] })?.value ?? [];
  // Only plain certificates (SEQUENCE); attribute or other certificate formats are skipped.
  return members
    .filter((m) => m instanceof asn1js.Sequence)
    .map((m) => parseDer(new Uint8Array(m.valueBeforeDecodeView)));
}

/**
 * Parses every certificate of a PEM bundle (CERTIFICATE blocks, and PKCS7 blocks holding a certs-only bundle, in
 * file order), a PKCS#7 certs-only DER bundle (.p7b), or one DER certificate. No certificate at all throws PkiError
 * MALFORMED.
 */
export function parseCertificates(input: Uint8Array | string): CertInfo[] {
  try {
    if (typeof input === "string" || looksLikePem(input)) {
      const text = typeof input === "string" ? input : Buffer.from(input).toString("utf8");
      const out: CertInfo[] = [];
      for (const b of decodePem(text, [...CERT_LABELS, "PKCS7", "CMS"])) {
        out.push(...(CERT_LABELS.includes(b.label) ? [parseDer(b.der)] : (certsOnlyBundle(b.der) ?? [])));
      }
      if (out.length === 0) throw malformed("no CERTIFICATE block was found in the PEM text");
      return out;
    }
    const bundle = certsOnlyBundle(input);
    if (bundle) {
      if (bundle.length === 0) throw malformed("the PKCS#7 bundle holds no certificate");
      return bundle;
    }
    return [parseDer(input)];
  } catch (e) {
    return wrap(e);
  }
}

/** Reads a certificate file (PEM bundle, PKCS#7 certs-only bundle or one DER certificate). Throws PkiError IO or MALFORMED. */
export async function readCertificates(path: string): Promise<CertInfo[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PkiError("IO", `Cannot read the certificate file ${path} (${code ?? "read error"}).`, {
      cause: e,
      hint: "Check the path and that you may read the file.",
    });
  }
  return parseCertificates(bytes);
}

/** Normalises a serial number given as hex (any case, optional "0x"/colons) or INTEGER content bytes. */
function serialToHex(serial: Uint8Array | string | bigint): string {
  if (typeof serial === "bigint") {
    let h = serial.toString(16);
    if (h.length % 2) h = `0${h}`;
    if (Number.parseInt(h[0]!, 16) >= 8) h = `00${h}`;
    return h;
  }
  const h = typeof serial === "string" ? serial.toLowerCase().replace(/^0x/, "").replace(/[:\s]/g, "") : hex(serial);
  return h;
}

/**
 * Serial numbers are positive (RFC 5280 4.1.2.2): compare magnitudes, so the DER "0080", the hex "80" and 128n are
 * one number, and non-minimal encodings ("000001") still match.
 */
function canonicalSerial(h: string): string {
  const s = h.replace(/^0+/, "");
  return s === "" ? "0" : s;
}

/** True when two serial numbers (hex, INTEGER content bytes or bigint) are the same number. */
export function serialsEqual(a: Uint8Array | string | bigint, b: Uint8Array | string | bigint): boolean {
  return canonicalSerial(serialToHex(a)) === canonicalSerial(serialToHex(b));
}

/**
 * True when the certificate is the one named by an IssuerAndSerialNumber (CMS recipient or signer identifier):
 * issuer Names equal per RFC 5280 §7.1 and serial numbers equal.
 */
export function issuerAndSerialMatches(
  cert: CertInfo,
  issuerDer: Uint8Array,
  serial: Uint8Array | string | bigint,
): boolean {
  return serialsEqual(cert.serialHex, serial) && namesEqual(cert.issuerDer, issuerDer);
}

/** True when the certificate's subjectKeyIdentifier equals `keyId` (bytes or hex). */
export function subjectKeyIdMatches(cert: CertInfo, keyId: Uint8Array | string): boolean {
  if (cert.subjectKeyIdHex === undefined) return false;
  const want = typeof keyId === "string" ? keyId.toLowerCase() : hex(keyId);
  return cert.subjectKeyIdHex === want;
}

/** True when `child` names `parent` as its issuer (issuer Name of child equals subject Name of parent). */
export function issuedBy(child: CertInfo, parent: CertInfo): boolean {
  return namesEqual(child.issuerDer, parent.subjectDer);
}

/** True when both CertInfos are the same certificate (same DER). */
export function sameCertificate(a: CertInfo, b: CertInfo): boolean {
  return bytesEqual(a.der, b.der);
}

/** Converts a CertInfo back to PEM text. */
export function certificateToPem(cert: CertInfo): string {
  const b64 = Buffer.from(cert.der).toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

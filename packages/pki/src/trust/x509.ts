import { createHash } from "node:crypto";
import {
  CERT_LIMITS,
  DerError,
  type Node,
  bitSet,
  bitsOf,
  boolOf,
  content,
  decode,
  expectSeq,
  hex,
  intOf,
  isContext,
  isUniversal,
  kids,
  octetsOf,
  oidOf,
  raw,
  timeOf,
} from "./der.js";
import {
  type GeneralName,
  type Name,
  type NameConstraints,
  parseGeneralName,
  parseGeneralNames,
  parseName,
  parseNameConstraints,
} from "./names.js";

/** An AlgorithmIdentifier: OID and the DER of its parameters (undefined when absent). */
export interface AlgId {
  oid: string;
  params: Uint8Array | undefined;
  der: Uint8Array;
}

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export interface DistributionPoint {
  /** fullName, when given as such. */
  fullName: GeneralName[] | undefined;
  /** nameRelativeToCRLIssuer, as the DER of a SET of attributes. */
  relativeName: Uint8Array | undefined;
  /** Reason bits (RFC 5280 ReasonFlags), undefined = all reasons. */
  reasons: Set<string> | undefined;
  crlIssuer: GeneralName[] | undefined;
}

export interface PolicyInfo {
  oid: string;
  qualifiers: Uint8Array | undefined;
}

export const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

export const REASON_BITS = [
  "unused",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
  "aACompromise",
] as const;

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  nameConstraints: "2.5.29.30",
  certificatePolicies: "2.5.29.32",
  policyMappings: "2.5.29.33",
  policyConstraints: "2.5.29.36",
  inhibitAnyPolicy: "2.5.29.54",
  crlDistributionPoints: "2.5.29.31",
  freshestCrl: "2.5.29.46",
  subjectDirectoryAttributes: "2.5.29.9",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  subjectInfoAccess: "1.3.6.1.5.5.7.1.11",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  anyPolicy: "2.5.29.32.0",
  anyEku: "2.5.29.37.0",
  ekuEmailProtection: "1.3.6.1.5.5.7.3.4",
  ekuOcspSigning: "1.3.6.1.5.5.7.3.9",
  ekuServerAuth: "1.3.6.1.5.5.7.3.1",
  ekuClientAuth: "1.3.6.1.5.5.7.3.2",
  ekuCodeSigning: "1.3.6.1.5.5.7.3.3",
  ekuTimeStamping: "1.3.6.1.5.5.7.3.8",
  ekuDocumentSigning: "1.3.6.1.5.5.7.3.36",
  ocsp: "1.3.6.1.5.5.7.48.1",
  caIssuers: "1.3.6.1.5.5.7.48.2",
} as const;

/** Extensions this validator understands (and may therefore accept when critical). */
export const KNOWN_CERT_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectKeyId,
  OID.authorityKeyId,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.nameConstraints,
  OID.certificatePolicies,
  OID.policyMappings,
  OID.policyConstraints,
  OID.inhibitAnyPolicy,
  OID.crlDistributionPoints,
  OID.freshestCrl,
  OID.authorityInfoAccess,
  OID.subjectInfoAccess,
  OID.subjectDirectoryAttributes,
  OID.ocspNoCheck,
]);

/** Everything the path validator reads from one certificate; parsed once from its DER. */
export interface ParsedCert {
  der: Uint8Array;
  sha256: string;
  version: number;
  serial: bigint;
  /** Content octets of the serial INTEGER (for CRL/OCSP matching and the 20-octet rule). */
  serialBytes: Uint8Array;
  serialHex: string;
  tbs: Uint8Array;
  /** signatureAlgorithm outside and signature inside the TBS (must be equal). */
  sigAlg: AlgId;
  tbsSigAlg: AlgId;
  signature: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  keyAlg: AlgId;
  /** The subjectPublicKey bits (for OCSP key hashes). */
  publicKeyBits: Uint8Array;
  extensions: Extension[];
  ext: Map<string, Extension>;
  duplicateExtension: string | undefined;
  basicConstraints: { ca: boolean; pathLen: number | undefined } | undefined;
  keyUsage: Set<string> | undefined;
  extKeyUsage: string[] | undefined;
  subjectKeyId: string | undefined;
  authorityKeyId:
    | { keyId: string | undefined; issuer: GeneralName[] | undefined; serial: bigint | undefined }
    | undefined;
  subjectAltNames: GeneralName[] | undefined;
  nameConstraints: NameConstraints | undefined;
  policies: PolicyInfo[] | undefined;
  policyMappings: Array<[string, string]> | undefined;
  policyConstraints:
    | { requireExplicitPolicy: number | undefined; inhibitPolicyMapping: number | undefined }
    | undefined;
  inhibitAnyPolicy: number | undefined;
  crlDistributionPoints: DistributionPoint[] | undefined;
  freshestCrl: DistributionPoint[] | undefined;
  ocspUrls: string[];
  caIssuerUrls: string[];
  /** Issuer and subject names are equal (RFC 5280 6.1: self-issued). */
  selfIssued: boolean;
  /** A parse problem of an extension, when one was not understood; reported by the validator. */
  extensionError: string | undefined;
}

export function parseAlgId(n: Node | undefined, what: string): AlgId {
  const parts = expectSeq(n, what);
  const oid = oidOf(parts[0], what);
  const p = parts[1];
  return { oid, params: p === undefined ? undefined : raw(p), der: raw(n as Node) };
}

function smallInt(n: Node | undefined, what: string): number {
  const v = intOf(n, what);
  if (v < 0n || v > 1000000n) throw new DerError(`${what}: out of range`);
  return Number(v);
}

export function parseReasons(n: Node): Set<string> {
  const { bytes } = bitsOf(n, "ReasonFlags");
  const out = new Set<string>();
  REASON_BITS.forEach((name, i) => {
    if (bitSet(bytes, i)) out.add(name);
  });
  return out;
}

/** DistributionPointName: [0] fullName GeneralNames | [1] nameRelativeToCRLIssuer. */
export function parseDpName(n: Node): { fullName: GeneralName[] | undefined; relativeName: Uint8Array | undefined } {
  const inner = kids(n)[0];
  if (inner === undefined) throw new DerError("DistributionPointName: empty");
  if (isContext(inner, 0)) return { fullName: parseGeneralNames(inner), relativeName: undefined };
  if (isContext(inner, 1)) {
    // Re-tag as a SET so it can be appended to a Name later.
    const r = raw(inner);
    const set = new Uint8Array(r);
    set[0] = 0x31;
    return { fullName: undefined, relativeName: set };
  }
  throw new DerError("DistributionPointName: unexpected choice");
}

function parseDistributionPoints(value: Uint8Array): DistributionPoint[] {
  return expectSeq(decode(value), "CRLDistributionPoints").map((dpNode) => {
    const dp: DistributionPoint = {
      fullName: undefined,
      relativeName: undefined,
      reasons: undefined,
      crlIssuer: undefined,
    };
    for (const f of expectSeq(dpNode, "DistributionPoint")) {
      if (isContext(f, 0)) Object.assign(dp, parseDpName(f));
      else if (isContext(f, 1)) dp.reasons = parseReasons(retagUniversal(f, 3));
      else if (isContext(f, 2)) dp.crlIssuer = parseGeneralNames(f);
      else throw new DerError("DistributionPoint: unexpected field");
    }
    return dp;
  });
}

/** Decodes an IMPLICIT-tagged primitive as if it carried universal tag `num`. */
export function retagUniversal(n: Node, num: number): Node {
  const r = raw(n);
  const copy = new Uint8Array(r);
  copy[0] = num;
  return decode(copy);
}

function parseExtensionsInto(pc: ParsedCert, n: Node): void {
  const seen = new Set<string>();
  for (const e of expectSeq(n, "Extensions")) {
    const parts = expectSeq(e, "Extension");
    const oid = oidOf(parts[0]);
    let critical = false;
    let valueNode = parts[1];
    if (parts.length === 3) {
      critical = boolOf(parts[1]);
      valueNode = parts[2];
    }
    const value = octetsOf(valueNode, "extnValue");
    if (seen.has(oid)) pc.duplicateExtension = oid;
    seen.add(oid);
    const ext = { oid, critical, value };
    pc.extensions.push(ext);
    pc.ext.set(oid, ext);
  }
  for (const ext of pc.extensions) {
    try {
      readExtension(pc, ext);
    } catch (err) {
      pc.extensionError = `extension ${ext.oid} is malformed (${(err as Error).message})`;
    }
  }
}

function readExtension(pc: ParsedCert, ext: Extension): void {
  const v = ext.value;
  switch (ext.oid) {
    case OID.basicConstraints: {
      const parts = expectSeq(decode(v), "BasicConstraints");
      let ca = false;
      let pathLen: number | undefined;
      for (const p of parts) {
        if (isUniversal(p, 1)) ca = boolOf(p);
        else pathLen = smallInt(p, "pathLenConstraint");
      }
      pc.basicConstraints = { ca, pathLen };
      return;
    }
    case OID.keyUsage: {
      const { bytes } = bitsOf(decode(v), "KeyUsage");
      const set = new Set<string>();
      KEY_USAGE_BITS.forEach((name, i) => {
        if (bitSet(bytes, i)) set.add(name);
      });
      pc.keyUsage = set;
      return;
    }
    case OID.extKeyUsage:
      pc.extKeyUsage = expectSeq(decode(v), "ExtKeyUsage").map((o) => oidOf(o));
      return;
    case OID.subjectKeyId:
      pc.subjectKeyId = hex(octetsOf(decode(v), "SubjectKeyIdentifier"));
      return;
    case OID.authorityKeyId: {
      const aki: NonNullable<ParsedCert["authorityKeyId"]> = { keyId: undefined, issuer: undefined, serial: undefined };
      for (const p of expectSeq(decode(v), "AuthorityKeyIdentifier")) {
        if (isContext(p, 0)) aki.keyId = hex(content(p));
        else if (isContext(p, 1)) aki.issuer = parseGeneralNames(p);
        else if (isContext(p, 2)) aki.serial = intOf(retagUniversal(p, 2));
      }
      pc.authorityKeyId = aki;
      return;
    }
    case OID.subjectAltName:
      pc.subjectAltNames = expectSeq(decode(v), "SubjectAltName").map(parseGeneralName);
      if (pc.subjectAltNames.length === 0) throw new DerError("empty SubjectAltName");
      return;
    case OID.nameConstraints:
      pc.nameConstraints = parseNameConstraints(v);
      return;
    case OID.certificatePolicies: {
      const seen = new Set<string>();
      pc.policies = expectSeq(decode(v), "CertificatePolicies").map((pi) => {
        const parts = expectSeq(pi, "PolicyInformation");
        const oid = oidOf(parts[0]);
        if (seen.has(oid)) throw new DerError(`policy ${oid} listed twice`);
        seen.add(oid);
        return { oid, qualifiers: parts[1] ? raw(parts[1]) : undefined };
      });
      return;
    }
    case OID.policyMappings:
      pc.policyMappings = expectSeq(decode(v), "PolicyMappings").map((m) => {
        const [a, b] = expectSeq(m, "PolicyMapping");
        return [oidOf(a), oidOf(b)] as [string, string];
      });
      return;
    case OID.policyConstraints: {
      const pcs: NonNullable<ParsedCert["policyConstraints"]> = {
        requireExplicitPolicy: undefined,
        inhibitPolicyMapping: undefined,
      };
      for (const p of expectSeq(decode(v), "PolicyConstraints")) {
        if (isContext(p, 0)) pcs.requireExplicitPolicy = smallInt(retagUniversal(p, 2), "requireExplicitPolicy");
        else if (isContext(p, 1)) pcs.inhibitPolicyMapping = smallInt(retagUniversal(p, 2), "inhibitPolicyMapping");
      }
      pc.policyConstraints = pcs;
      return;
    }
    case OID.inhibitAnyPolicy:
      pc.inhibitAnyPolicy = smallInt(decode(v), "InhibitAnyPolicy");
      return;
    case OID.crlDistributionPoints:
      pc.crlDistributionPoints = parseDistributionPoints(v);
      return;
    case OID.freshestCrl:
      pc.freshestCrl = parseDistributionPoints(v);
      return;
    case OID.authorityInfoAccess:
      for (const ad of expectSeq(decode(v), "AuthorityInfoAccess")) {
        const [m, loc] = expectSeq(ad, "AccessDescription");
        const method = oidOf(m);
        const gn = parseGeneralName(loc as Node);
        if (gn.kind === "uri" && method === OID.ocsp) pc.ocspUrls.push(gn.value);
        if (gn.kind === "uri" && method === OID.caIssuers) pc.caIssuerUrls.push(gn.value);
      }
      return;
    default:
      return;
  }
}

const cache = new WeakMap<Uint8Array, ParsedCert>();
const byHash = new Map<string, ParsedCert>();

/** Parses a DER certificate for the validator (cached by content). Throws DerError on malformed input. */
export function parseCert(der: Uint8Array): ParsedCert {
  const hit = cache.get(der);
  if (hit) return hit;
  const sha256 = createHash("sha256").update(der).digest("hex");
  const known = byHash.get(sha256);
  if (known) {
    cache.set(der, known);
    return known;
  }
  const pc = parseCertUncached(der, sha256);
  cache.set(der, pc);
  if (byHash.size > 5000) byHash.clear();
  byHash.set(sha256, pc);
  return pc;
}

function parseCertUncached(der: Uint8Array, sha256: string): ParsedCert {
  const top = expectSeq(decode(der, CERT_LIMITS), "Certificate");
  if (top.length !== 3) throw new DerError("Certificate: expected 3 fields");
  const tbsNode = top[0] as Node;
  const tbs = expectSeq(tbsNode, "TBSCertificate");
  let i = 0;
  let version = 1;
  if (isContext(tbs[0], 0)) {
    version = Number(intOf(kids(tbs[0] as Node)[0], "version")) + 1;
    i = 1;
  }
  const serialNode = tbs[i++];
  const serial = intOf(serialNode, "serialNumber");
  const serialBytes = content(serialNode as Node);
  const tbsSigAlg = parseAlgId(tbs[i++], "signature");
  const issuer = parseName(tbs[i++] as Node);
  const validity = expectSeq(tbs[i++], "Validity");
  const notBefore = timeOf(validity[0], "notBefore");
  const notAfter = timeOf(validity[1], "notAfter");
  const subject = parseName(tbs[i++] as Node);
  const spkiNode = tbs[i++];
  const spkiParts = expectSeq(spkiNode, "SubjectPublicKeyInfo");
  const keyAlg = parseAlgId(spkiParts[0], "SubjectPublicKeyInfo.algorithm");
  const pkBits = bitsOf(spkiParts[1], "subjectPublicKey");
  const sigBits = bitsOf(top[2], "signatureValue");
  const pc: ParsedCert = {
    der,
    sha256,
    version,
    serial,
    serialBytes,
    serialHex: hex(serialBytes),
    tbs: raw(tbsNode),
    sigAlg: parseAlgId(top[1], "signatureAlgorithm"),
    tbsSigAlg,
    signature: sigBits.bytes,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: raw(spkiNode as Node),
    keyAlg,
    publicKeyBits: pkBits.bytes,
    extensions: [],
    ext: new Map(),
    duplicateExtension: undefined,
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    subjectAltNames: undefined,
    nameConstraints: undefined,
    policies: undefined,
    policyMappings: undefined,
    policyConstraints: undefined,
    inhibitAnyPolicy: undefined,
    crlDistributionPoints: undefined,
    freshestCrl: undefined,
    ocspUrls: [],
    caIssuerUrls: [],
    selfIssued: issuer.key === subject.key,
    extensionError: undefined,
  };
  for (; i < tbs.length; i++) {
    const f = tbs[i] as Node;
    if (isContext(f, 3)) parseExtensionsInto(pc, kids(f)[0] as Node);
    else if (isContext(f, 1) || isContext(f, 2))
      continue; // issuer/subject unique IDs
    else throw new DerError("TBSCertificate: unexpected field");
  }
  return pc;
}

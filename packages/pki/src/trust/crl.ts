import { createHash } from "node:crypto";
import {
  CRL_LIMITS,
  DerError,
  type Node,
  boolOf,
  content,
  decode,
  expectSeq,
  intOf,
  isContext,
  isUniversal,
  kids,
  octetsOf,
  oidOf,
  raw,
  timeOf,
} from "./der.js";
import { type GeneralName, type Name, parseGeneralNames, parseName } from "./names.js";
import { type AlgId, OID, parseAlgId, parseDpName, parseReasons, retagUniversal } from "./x509.js";

export const CRL_OID = {
  crlNumber: "2.5.29.20",
  deltaCrlIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  certificateIssuer: "2.5.29.29",
  holdInstructionCode: "2.5.29.23",
} as const;

const KNOWN_CRL_EXTENSIONS = new Set<string>([
  OID.authorityKeyId,
  OID.issuerAltName,
  CRL_OID.crlNumber,
  CRL_OID.deltaCrlIndicator,
  CRL_OID.issuingDistributionPoint,
  OID.freshestCrl,
  OID.authorityInfoAccess,
]);
const KNOWN_ENTRY_EXTENSIONS = new Set<string>([
  CRL_OID.reasonCode,
  CRL_OID.invalidityDate,
  CRL_OID.certificateIssuer,
  CRL_OID.holdInstructionCode,
]);

/** CRLReason values (RFC 5280 5.3.1). */
export const CRL_REASONS: Record<number, string> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

export interface CrlEntry {
  serial: bigint;
  /** Name key of the certificate issuer this entry is about (the CRL issuer unless an indirect CRL says otherwise). */
  issuerKey: string;
  revocationDate: Date;
  reason: string;
  invalidityDate: Date | undefined;
}

export interface IssuingDistributionPoint {
  fullName: GeneralName[] | undefined;
  relativeName: Uint8Array | undefined;
  onlyUserCerts: boolean;
  onlyCaCerts: boolean;
  onlySomeReasons: Set<string> | undefined;
  indirect: boolean;
  onlyAttributeCerts: boolean;
  der: Uint8Array;
}

/** A parsed CRL, ready for the RFC 5280 6.3 checks. */
export interface ParsedCrl {
  der: Uint8Array;
  sha256: string;
  tbs: Uint8Array;
  sigAlg: AlgId;
  tbsSigAlg: AlgId;
  signature: Uint8Array;
  issuer: Name;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  crlNumber: bigint | undefined;
  /** Set for a delta CRL: the number of the base CRL it updates. */
  baseCrlNumber: bigint | undefined;
  authorityKeyId: string | undefined;
  idp: IssuingDistributionPoint | undefined;
  entries: CrlEntry[];
  /** Why this CRL cannot be used (unknown critical extension ...), when it cannot. */
  unusable: string | undefined;
  /** Where it came from (file path, URL, "inline"). */
  source: string;
}

function parseIdp(value: Uint8Array): IssuingDistributionPoint {
  const idp: IssuingDistributionPoint = {
    fullName: undefined,
    relativeName: undefined,
    onlyUserCerts: false,
    onlyCaCerts: false,
    onlySomeReasons: undefined,
    indirect: false,
    onlyAttributeCerts: false,
    der: value,
  };
  for (const f of expectSeq(decode(value), "IssuingDistributionPoint")) {
    if (isContext(f, 0)) Object.assign(idp, parseDpName(f));
    else if (isContext(f, 1)) idp.onlyUserCerts = boolOf(retagUniversal(f, 1));
    else if (isContext(f, 2)) idp.onlyCaCerts = boolOf(retagUniversal(f, 1));
    else if (isContext(f, 3)) idp.onlySomeReasons = parseReasons(retagUniversal(f, 3));
    else if (isContext(f, 4)) idp.indirect = boolOf(retagUniversal(f, 1));
    else if (isContext(f, 5)) idp.onlyAttributeCerts = boolOf(retagUniversal(f, 1));
    else throw new DerError("IssuingDistributionPoint: unexpected field");
  }
  return idp;
}

function extensionsOf(n: Node): Array<{ oid: string; critical: boolean; value: Uint8Array }> {
  return expectSeq(n, "Extensions").map((e) => {
    const parts = expectSeq(e, "Extension");
    const critical = parts.length === 3 ? boolOf(parts[1]) : false;
    return { oid: oidOf(parts[0]), critical, value: octetsOf(parts[parts.length - 1], "extnValue") };
  });
}

/** Splits PEM text into DER blocks of the given label; returns [bytes] when `bytes` is not PEM. */
export function pemBlocks(bytes: Uint8Array, label: string): Uint8Array[] {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 64))).toString("latin1");
  if (!head.includes("-----BEGIN")) return [bytes];
  const text = Buffer.from(bytes).toString("latin1");
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  const out: Uint8Array[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(new Uint8Array(Buffer.from(m[1] ?? "", "base64")));
  return out;
}

/** Parses one DER CRL. Throws DerError when malformed. */
export function parseCrl(der: Uint8Array, source = "inline"): ParsedCrl {
  const top = expectSeq(decode(der, CRL_LIMITS), "CertificateList");
  const tbsNode = top[0] as Node;
  const tbs = expectSeq(tbsNode, "TBSCertList");
  let i = 0;
  if (isUniversal(tbs[0], 2)) i++;
  const tbsSigAlg = parseAlgId(tbs[i++], "signature");
  const issuer = parseName(tbs[i++] as Node);
  const thisUpdate = timeOf(tbs[i++], "thisUpdate");
  let nextUpdate: Date | undefined;
  if (tbs[i] && (isUniversal(tbs[i], 23) || isUniversal(tbs[i], 24))) nextUpdate = timeOf(tbs[i++], "nextUpdate");
  const crl: ParsedCrl = {
    der,
    sha256: createHash("sha256").update(der).digest("hex"),
    tbs: raw(tbsNode),
    sigAlg: parseAlgId(top[1], "signatureAlgorithm"),
    tbsSigAlg,
    signature: content(top[2] as Node).subarray(1),
    issuer,
    thisUpdate,
    nextUpdate,
    crlNumber: undefined,
    baseCrlNumber: undefined,
    authorityKeyId: undefined,
    idp: undefined,
    entries: [],
    unusable: undefined,
    source,
  };
  let revoked: Node | undefined;
  if (tbs[i] && isUniversal(tbs[i], 16)) revoked = tbs[i++];
  if (tbs[i] && isContext(tbs[i], 0)) {
    for (const e of extensionsOf(kids(tbs[i] as Node)[0] as Node)) {
      if (e.critical && !KNOWN_CRL_EXTENSIONS.has(e.oid))
        crl.unusable = `it has an unknown critical extension ${e.oid}`;
      if (e.oid === CRL_OID.crlNumber) crl.crlNumber = intOf(decode(e.value));
      else if (e.oid === CRL_OID.deltaCrlIndicator) crl.baseCrlNumber = intOf(decode(e.value));
      else if (e.oid === CRL_OID.issuingDistributionPoint) crl.idp = parseIdp(e.value);
      else if (e.oid === OID.authorityKeyId) {
        for (const p of expectSeq(decode(e.value), "AuthorityKeyIdentifier")) {
          if (isContext(p, 0)) crl.authorityKeyId = Buffer.from(content(p)).toString("hex");
        }
      }
    }
  }
  if (revoked) {
    let issuerKey = issuer.key;
    for (const entry of kids(revoked)) {
      const parts = expectSeq(entry, "revokedCertificate");
      const serial = intOf(parts[0], "userCertificate");
      const revocationDate = timeOf(parts[1], "revocationDate");
      let reason = "unspecified";
      let invalidityDate: Date | undefined;
      if (parts[2]) {
        for (const e of extensionsOf(parts[2])) {
          if (e.critical && !KNOWN_ENTRY_EXTENSIONS.has(e.oid)) {
            crl.unusable = `an entry has an unknown critical extension ${e.oid}`;
          }
          if (e.oid === CRL_OID.reasonCode) {
            const v = decode(e.value);
            if (!isUniversal(v, 10)) throw new DerError("reasonCode: expected ENUMERATED");
            reason = CRL_REASONS[Number(content(v)[0])] ?? "unspecified";
          } else if (e.oid === CRL_OID.invalidityDate) invalidityDate = timeOf(decode(e.value));
          else if (e.oid === CRL_OID.certificateIssuer) {
            const dn = parseGeneralNames(decode(e.value)).find((g) => g.kind === "dn");
            if (dn && dn.kind === "dn") issuerKey = dn.value.key;
          }
        }
      }
      crl.entries.push({ serial, issuerKey, revocationDate, reason, invalidityDate });
    }
  }
  return crl;
}

/** Parses DER or PEM bytes holding one or more CRLs. */
export function parseCrls(bytes: Uint8Array, source = "inline"): ParsedCrl[] {
  return pemBlocks(bytes, "X509 CRL").map((b) => parseCrl(b, source));
}

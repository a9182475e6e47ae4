import type { CertInfo, KeyEntry } from "@sealpost/pki";
import { PkiError, issuerAndSerialMatches, nameToString, subjectKeyIdMatches } from "@sealpost/pki";
import { type KeyTransportAlg, RSA_PKCS1_ALGID, oaepAlgId, parseAlgId, parseKeyTransportAlg } from "./algorithms.js";
import { type Node, TAG, decodeInteger, encodeInteger, malformed, octetString, seq, setOf, tlv } from "./ber/der.js";
import type { BerReader } from "./ber/reader.js";
import { allowsDecryption } from "./decryption-keys.js";
import { CmsError } from "./errors.js";
import { type Kari, buildKeyAgreeRecipientInfo, keyAgreeCurve, parseKeyAgreeRecipientInfo } from "./key-agreement.js";
import { LIMITS } from "./limits.js";
import { wrapKey } from "./key-transport.js";
import type { RecipientInfoSummary, RecipientSummary } from "./types.js";

/** Summary of a certificate as a recipient. */
export function recipientSummary(c: CertInfo): RecipientSummary {
  const out: RecipientSummary = {
    commonName: c.commonName,
    subject: c.subject,
    issuer: c.issuer,
    serialHex: c.serialHex,
  };
  if (c.subjectKeyIdHex) out.subjectKeyIdHex = c.subjectKeyIdHex;
  return out;
}

/**
 * Check a recipient certificate before sealing to it: an RSA key with keyUsage keyEncipherment, or an EC key on
 * P-256/P-384/P-521 with keyUsage keyAgreement (when the extension is present), within validity now. Full path
 * validation is the caller's business (trust.validate before seal).
 */
export function checkRecipientCert(c: CertInfo, now = new Date()): void {
  const who = c.commonName || c.subject;
  if (c.keyType !== "rsa" && c.keyType !== "ec") {
    throw new CmsError(
      "UNSUPPORTED_ALGORITHM",
      `The certificate of ${who} has a ${c.keyType} key; sealpost encrypts to RSA and EC keys only.`,
    );
  }
  if (c.keyType === "ec") keyAgreeCurve(c);
  const usage = c.keyType === "ec" ? "keyAgreement" : "keyEncipherment";
  if (c.keyUsage && !c.keyUsage.has(usage)) {
    throw new CmsError("KEY_USAGE", `The certificate of ${who} is not an encryption certificate (no ${usage}).`, {
      hint: "Use the recipient's encryption certificate, not the signing one.",
      details: { subject: c.subject, serialHex: c.serialHex },
    });
  }
  if (now < c.notBefore || now > c.notAfter) {
    const code = now < c.notBefore ? "NOT_YET_VALID" : "EXPIRED";
    throw new PkiError(
      code,
      `The encryption certificate of ${who} is not valid now (valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}).`,
      {
        hint: "Ask the recipient to register a current certificate.",
        details: { subject: c.subject, serialHex: c.serialHex },
      },
    );
  }
}

/**
 * DER RecipientInfos for `cek`: a KeyTransRecipientInfo per RSA recipient (`kind` padding) and a
 * KeyAgreeRecipientInfo per EC recipient (see key-agreement.ts).
 */
export function buildRecipientInfos(
  recipients: CertInfo[],
  cek: Buffer,
  kind: "oaep" | "pkcs1",
  id: "issuerAndSerialNumber" | "subjectKeyIdentifier",
): Buffer {
  const alg = kind === "oaep" ? oaepAlgId("sha256") : RSA_PKCS1_ALGID;
  const infos = recipients.map((c) => {
    if (id === "subjectKeyIdentifier" && !c.subjectKeyIdHex) {
      throw new CmsError("KEY_USAGE", `The certificate of ${c.commonName || c.subject} has no subjectKeyIdentifier.`, {
        hint: "Identify recipients by issuer and serial number instead.",
      });
    }
    if (c.keyType === "ec") return buildKeyAgreeRecipientInfo(c, cek, id);
    let rid: Buffer;
    let version: number;
    if (id === "subjectKeyIdentifier") {
      rid = tlv(0x80, Buffer.from(c.subjectKeyIdHex!, "hex"));
      version = 2;
    } else {
      rid = seq(Buffer.from(c.issuerDer), encodeInteger(Buffer.from(c.serialHex, "hex")));
      version = 0;
    }
    return seq(encodeInteger(version), rid, alg, octetString(wrapKey(c.publicKey, cek, kind)));
  });
  return setOf(infos);
}

/** A parsed KeyTransRecipientInfo. */
export interface Ktri {
  version: number;
  issuerDer?: Buffer;
  serial?: Buffer;
  ski?: Buffer;
  alg: KeyTransportAlg | Error;
  encryptedKey: Buffer;
}

const RI_TYPES: Record<number, RecipientInfoSummary["type"]> = {
  161: "kari", // [1]
  162: "kekri", // [2]
  163: "pwri", // [3]
  164: "ori", // [4]
};

export interface ParsedRecipients {
  ktris: Ktri[];
  karis: Kari[];
  summaries: RecipientInfoSummary[];
  /** True when every RecipientInfo has version 0 (an EnvelopedData may then be version 0). */
  allVersion0: boolean;
  /** True when a PasswordRecipientInfo or an OtherRecipientInfo is present (EnvelopedData version 3 or more). */
  pwriOrOri: boolean;
}

/** RFC 5652 section 6.2: the version each RecipientInfo choice must carry (ori has none). */
const RI_VERSIONS: Record<number, number> = { 161: 3, 162: 4, 163: 0 };

function wrongVersion(what: string, got: bigint | undefined, want: number): CmsError {
  return malformed(`${what} has version ${got ?? "(none)"}; RFC 5652 requires ${want}`);
}

/**
 * Read RecipientInfos (the SET header comes next) one RecipientInfo at a time, within LIMITS: at most 1,000
 * recipients, 4 MiB together, 256 KiB and 20,000 elements each; MALFORMED beyond. Unknown key-transport algorithms
 * are kept as errors (thrown only when that one matches).
 */
export async function readRecipientInfos(r: BerReader): Promise<ParsedRecipients> {
  const set = await r.expect(TAG.SET, "the recipient list");
  const first = r.position;
  const out: ParsedRecipients = { ktris: [], karis: [], summaries: [], allVersion0: true, pwriOrOri: false };
  let count = 0;
  while (!(await r.atEnd(set))) {
    if (r.position - first > LIMITS.recipientInfosBytes) {
      throw malformed(`the recipient list is larger than ${LIMITS.recipientInfosBytes} bytes`);
    }
    count += addRecipientInfo(await r.readDecoded("a recipient", LIMITS.recipientInfo), out);
    if (count > LIMITS.recipients) throw malformed(`the file names more than ${LIMITS.recipients} recipients`);
  }
  return out;
}

/** Parse a decoded RecipientInfos SET (see readRecipientInfos for the streaming reader and its limits). */
export function parseRecipientInfos(set: Node): ParsedRecipients {
  if (set.tag !== TAG.SET) throw malformed("RecipientInfos is not a SET");
  const out: ParsedRecipients = { ktris: [], karis: [], summaries: [], allVersion0: true, pwriOrOri: false };
  let count = 0;
  for (const ri of set.children) {
    count += addRecipientInfo(ri, out);
    if (count > LIMITS.recipients) throw malformed(`the file names more than ${LIMITS.recipients} recipients`);
  }
  return out;
}

/** Adds one RecipientInfo to `out`; returns how many recipients it names (a kari may name several). */
function addRecipientInfo(ri: Node, out: ParsedRecipients): number {
  const { ktris, summaries } = out;
  if (ri.tag !== TAG.SEQUENCE) {
    const type = RI_TYPES[ri.tag];
    if (!type || !ri.constructed) throw malformed("a RecipientInfo has an unknown form");
    const first = ri.children[0];
    if (type === "ori") {
      if (first?.tag !== TAG.OID) throw malformed("an OtherRecipientInfo has no type");
      out.pwriOrOri = true;
      out.allVersion0 = false;
    } else {
      const want = RI_VERSIONS[ri.tag]!;
      const got = first?.tag === TAG.INTEGER ? decodeInteger(first.content) : undefined;
      if (got !== BigInt(want)) throw wrongVersion(`a ${type} RecipientInfo`, got, want);
      if (want !== 0) out.allVersion0 = false;
      if (type === "pwri") out.pwriOrOri = true;
    }
    if (ri.tag === 0xa1) {
      // KeyAgreeRecipientInfo: one RecipientEncryptedKey per recipient.
      const k = parseKeyAgreeRecipientInfo(ri);
      out.karis.push(k.kari);
      summaries.push(...k.summaries);
      return Math.max(1, k.summaries.length);
    }
    summaries.push({ type });
    return 1;
  }
  const [v, rid, algNode, ek] = ri.children;
  if (!v || v.tag !== TAG.INTEGER || !rid || !algNode || !ek || ek.tag !== TAG.OCTET_STRING) {
    throw malformed("a KeyTransRecipientInfo is incomplete");
  }
  const k: Ktri = {
    version: Number(decodeInteger(v.content)),
    alg: new Error("unparsed"),
    encryptedKey: ek.content,
  };
  try {
    k.alg = parseKeyTransportAlg(parseAlgId(algNode, "the key transport algorithm"));
  } catch (e) {
    k.alg = e as Error;
  }
  const s: RecipientInfoSummary = { type: "ktri", version: k.version };
  if (!(k.alg instanceof Error)) s.keyTransport = k.alg.name;
  if (rid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = rid.children;
    if (!issuer || !serial || serial.tag !== TAG.INTEGER) throw malformed("an IssuerAndSerialNumber is incomplete");
    k.issuerDer = issuer.raw;
    k.serial = serial.content;
    s.issuerDer = issuer.raw;
    try {
      s.issuer = nameToString(issuer.raw);
    } catch {
      s.issuer = `#${issuer.raw.toString("hex")}`;
    }
    s.serialHex = serial.content.toString("hex");
  } else if (rid.tag === 0x80) {
    k.ski = rid.content;
    s.subjectKeyIdHex = rid.content.toString("hex");
  } else {
    throw malformed("a recipient identifier has an unknown form");
  }
  // RFC 5652 6.2.1: version 0 with issuerAndSerialNumber, 2 with subjectKeyIdentifier.
  const want = k.ski ? 2 : 0;
  if (k.version !== want) throw wrongVersion("a KeyTransRecipientInfo", decodeInteger(v.content), want);
  if (want !== 0) out.allVersion0 = false;
  ktris.push(k);
  summaries.push(s);
  return 1;
}

/** True when the key's certificate names this RecipientInfo (issuer and serial number, or subject key id). */
function names(ktri: Ktri, key: KeyEntry): boolean {
  if (ktri.ski) return subjectKeyIdMatches(key.cert, ktri.ski);
  return !!ktri.issuerDer && !!ktri.serial && issuerAndSerialMatches(key.cert, ktri.issuerDer, ktri.serial);
}

/**
 * The first (key, ktri) pair where the key's certificate is the one the ktri names, among the keys whose
 * certificate allows decryption (keyEncipherment for RSA, keyAgreement for EC; any key when the certificate has no
 * keyUsage extension). `refused` lists the keys that were named but are not for decryption (a signing key): they
 * are never used, and notARecipient says why.
 */
export function matchRecipient(
  ktris: Ktri[],
  keys: KeyEntry[],
): { key: KeyEntry; ktri: Ktri; refused: KeyEntry[] } | { key: undefined; refused: KeyEntry[] } {
  const refused: KeyEntry[] = [];
  for (const key of keys) {
    const ktri = ktris.find((k) => names(k, key));
    if (!ktri) continue;
    if (allowsDecryption(key.cert)) return { key, ktri, refused };
    refused.push(key);
  }
  return { key: undefined, refused };
}

export function notARecipient(summaries: RecipientInfoSummary[], keys: KeyEntry[], refused: KeyEntry[] = []): CmsError {
  const list = summaries.map((s) => ({
    type: s.type,
    issuer: s.issuer,
    serialHex: s.serialHex,
    subjectKeyIdHex: s.subjectKeyIdHex,
  }));
  const names = list
    .map((r) =>
      r.serialHex ? `${r.issuer} serial ${r.serialHex}` : r.subjectKeyIdHex ? `key id ${r.subjectKeyIdHex}` : r.type,
    )
    .slice(0, 10)
    .join("; ");
  const refusedText = refused
    .map(
      (k) =>
        `${k.cert.commonName || k.cert.subject} serial ${k.cert.serialHex} (key usage ${[...(k.cert.keyUsage ?? [])].join(", ")})`,
    )
    .join("; ");
  const message = refused.length
    ? `This file was sealed to your certificate ${refusedText}, which is not for decryption: sealpost opens files only with encryption keys (keyEncipherment or keyAgreement).`
    : `This file was not sealed for your key. It is addressed to ${list.length} recipient(s): ${names}${list.length > 10 ? "; ..." : ""}.`;
  return new CmsError("NOT_A_RECIPIENT", message, {
    hint: refused.length
      ? "Ask the sender to seal it to your encryption certificate; a file sealed to a signing certificate is suspect."
      : "Open it with the keystore holding one of these encryption certificates, or ask the sender to seal it to your registered certificate.",
    details: {
      recipients: list,
      yourCertificates: keys.map((k) => ({
        subject: k.cert.subject,
        issuer: k.cert.issuer,
        serialHex: k.cert.serialHex,
      })),
      ...(refused.length
        ? {
            refusedKeys: refused.map((k) => ({
              subject: k.cert.subject,
              serialHex: k.cert.serialHex,
              keyUsage: [...(k.cert.keyUsage ?? [])],
            })),
          }
        : {}),
    },
  });
}

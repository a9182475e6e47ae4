import { createHash } from "node:crypto";
import type { CertInfo } from "@sealpost/pki";
import { issuerAndSerialMatches } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import { type AlgId, digestFromAlgId, parseAlgId } from "./algorithms.js";
import {
  type Node,
  TAG,
  decodeOid,
  encodeInteger,
  encodeOid,
  encodeTime,
  malformed,
  octetString,
  seq,
  setOf,
  tlv,
} from "./ber/der.js";
import { CmsError } from "./errors.js";
import { LIMITS } from "./limits.js";
import { MANIFEST_ATTRIBUTE_OID, encodeManifest } from "./manifest.js";
import { OID } from "./oids.js";

/** One Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }. */
export function attribute(oid: string, values: Uint8Array[]): Buffer {
  return seq(encodeOid(oid), setOf(values));
}

/** Inputs of the signed attributes sealpost writes. */
export interface SignedAttributesInput {
  contentType: string;
  digest: Buffer;
  signingTime: Date;
  signerCert: CertInfo;
  /** DER AlgorithmIdentifiers as they appear in the SignerInfo (for CMSAlgorithmProtection). */
  digestAlgId: Buffer;
  signatureAlgId: Buffer;
  manifest?: TransferManifest;
}

/**
 * The DER SET OF signed attributes (tag 0x31, sorted): contentType, messageDigest, signingTime,
 * signingCertificateV2 (ESSCertIDv2: SHA-256 of the signer certificate, hashAlgorithm left at its default, with
 * issuerSerial), CMSAlgorithmProtection and, when given, the transfer manifest. The signature is computed over
 * exactly these bytes; the SignerInfo carries them with tag [0] IMPLICIT.
 */
export function buildSignedAttributes(a: SignedAttributesInput): Buffer {
  const certHash = createHash("sha256").update(a.signerCert.der).digest();
  const issuerSerial = seq(
    seq(tlv(0xa4, a.signerCert.issuerDer)),
    encodeInteger(Buffer.from(a.signerCert.serialHex, "hex")),
  );
  const essCertIdV2 = seq(octetString(certHash), issuerSerial);
  const attrs = [
    attribute(OID.contentType, [encodeOid(a.contentType)]),
    attribute(OID.messageDigest, [octetString(a.digest)]),
    attribute(OID.signingTime, [encodeTime(a.signingTime)]),
    attribute(OID.signingCertificateV2, [seq(seq(essCertIdV2))]),
    attribute(OID.cmsAlgorithmProtection, [
      seq(a.digestAlgId, tlv(0xa1, a.signatureAlgId.subarray(2 + lenOfLen(a.signatureAlgId)))),
    ]),
  ];
  if (a.manifest) attrs.push(attribute(MANIFEST_ATTRIBUTE_OID, [encodeManifest(a.manifest)]));
  return setOf(attrs);
}

/** Number of extra length octets in a DER header (0 for short form). */
function lenOfLen(der: Buffer): number {
  const l = der[1]!;
  return l < 0x80 ? 0 : l & 0x7f;
}

/** Attributes by type; each entry keeps every value (duplicates of a type are kept apart for checking). */
export type AttributeMap = Map<string, Node[][]>;

export function parseAttributes(node: Node): AttributeMap {
  const map: AttributeMap = new Map();
  if (node.children.length > LIMITS.attributes) {
    throw malformed(`an attribute set has more than ${LIMITS.attributes} attributes`);
  }
  for (const a of node.children) {
    if (a.tag !== TAG.SEQUENCE || a.children.length !== 2 || a.children[0]!.tag !== TAG.OID) {
      throw badAttrs("an attribute is not well-formed", "attribute-format");
    }
    if (a.children[1]!.tag !== TAG.SET) throw badAttrs("an attribute has no value set", "attribute-format");
    if (a.children[1]!.children.length > LIMITS.attributeValues) {
      throw malformed(`an attribute has more than ${LIMITS.attributeValues} values`);
    }
    const oid = decodeOid(a.children[0]!.content);
    const list = map.get(oid) ?? [];
    list.push(a.children[1]!.children);
    map.set(oid, list);
  }
  return map;
}

export function badAttrs(what: string, reason: string): CmsError {
  return new CmsError("BAD_SIGNATURE", `The signature's signed attributes are not acceptable: ${what}.`, {
    details: { reason },
    hint: "The file was altered or made by faulty software; ask the sender to sign it again.",
  });
}

/** The single value of a single-valued attribute, undefined when absent, BAD_SIGNATURE when repeated. */
export function singleValue(map: AttributeMap, oid: string, name: string): Node | undefined {
  const list = map.get(oid);
  if (!list) return undefined;
  if (list.length !== 1 || list[0]!.length !== 1)
    throw badAttrs(`the ${name} attribute must have exactly one value`, `${name}-multiple`);
  return list[0]![0]!;
}

/** Check a signingCertificateV2 (or v1 when `v1`) value against the signer certificate. */
export function checkSigningCertificate(value: Node, signer: CertInfo, v1: boolean): void {
  const certs = value.children[0];
  if (value.tag !== TAG.SEQUENCE || !certs || certs.tag !== TAG.SEQUENCE || certs.children.length === 0) {
    throw badAttrs("the signing-certificate attribute is not well-formed", "signing-certificate-format");
  }
  const first = certs.children[0]!;
  let i = 0;
  let hash = v1 ? "sha1" : "sha256";
  if (!v1 && first.children[0]?.tag === TAG.SEQUENCE) {
    const alg: AlgId = parseAlgId(first.children[0], "the signing-certificate hash algorithm");
    hash = digestFromAlgId(alg);
    i = 1;
  }
  const certHash = first.children[i];
  if (!certHash || certHash.tag !== TAG.OCTET_STRING) {
    throw badAttrs("the signing-certificate hash is missing", "signing-certificate-format");
  }
  const want = createHash(hash).update(signer.der).digest();
  if (!want.equals(certHash.content)) {
    throw badAttrs(
      "the signing-certificate attribute names a different certificate than the signer's",
      "signing-certificate-mismatch",
    );
  }
  const issuerSerial = first.children[i + 1];
  if (issuerSerial) {
    const names = issuerSerial.children[0];
    const serial = issuerSerial.children[1];
    const dirName = names?.children.find((g) => g.tag === 0xa4);
    if (!serial || serial.tag !== TAG.INTEGER || !dirName?.children[0]) {
      throw badAttrs("the signing-certificate issuerSerial is not well-formed", "signing-certificate-format");
    }
    if (!issuerAndSerialMatches(signer, dirName.children[0].raw, serial.content)) {
      throw badAttrs(
        "the signing-certificate issuer and serial do not match the signer",
        "signing-certificate-mismatch",
      );
    }
  }
}

import { type AlgId, parseAlgId } from "./algorithms.js";
import { type Node, TAG, decodeInteger, decodeOid, malformed } from "./ber/der.js";
import type { BerReader, Header } from "./ber/reader.js";
import { OID, oidName } from "./oids.js";
import { LIMITS } from "./limits.js";
import { type ParsedRecipients, readRecipientInfos } from "./recipient-infos.js";

/**
 * Streaming parser of the outer layers: ContentInfo, then AuthEnvelopedData / EnvelopedData up to the encrypted
 * content, the encrypted content itself as chunks, and the trailer (mac, attributes, end of input).
 *
 * Call order: `readContentInfoStart()`, then for an envelope `readEnvelopeHead()`, then consume
 * `head.encryptedContent` with `reader.stringChunks()` (when present) entirely, then `readEnvelopeTail()`, which
 * also requires the end of input (trailing bytes => MALFORMED).
 */

export interface ContentInfoStart {
  contentType: string;
  outer: Header;
  /** The [0] EXPLICIT content header (absent only for degenerate inputs, which are refused). */
  explicit: Header;
}

export async function readContentInfoStart(r: BerReader): Promise<ContentInfoStart> {
  const outer = await r.readHeader("the file header");
  if (outer.tag !== TAG.SEQUENCE) throw malformed("the file does not start with a CMS ContentInfo");
  const oidNode = await r.readDecoded("the content type", LIMITS.field);
  if (oidNode.tag !== TAG.OID) throw malformed("the ContentInfo has no content type");
  const contentType = decodeOid(oidNode.content);
  const explicit = await r.readHeader("the content");
  if (explicit.tag !== 0xa0) throw malformed("the ContentInfo content is not tagged [0]");
  return { contentType, outer, explicit };
}

export interface EnvelopeHead {
  kind: "authEnvelopedData" | "envelopedData";
  version: number;
  /** The version RFC 5652 (6.1) or RFC 5083 requires, unprotectedAttrs aside (an EnvelopedData then has 2, not 0). */
  baseVersion: number;
  envelope: Header;
  recipients: ParsedRecipients;
  eci: Header;
  encryptedContentType: string;
  cipherAlg: AlgId;
  /** Header of [0] IMPLICIT encryptedContent, or undefined when absent (detached content is not supported). */
  encryptedContent: Header | undefined;
}

export async function readEnvelopeHead(r: BerReader, contentType: string): Promise<EnvelopeHead> {
  const kind = contentType === OID.authEnvelopedData ? "authEnvelopedData" : "envelopedData";
  const envelope = await r.expect(TAG.SEQUENCE, `the ${kind}`);
  const v = await r.readDecoded("the version", LIMITS.field);
  if (v.tag !== TAG.INTEGER) throw malformed(`the ${kind} version is not an INTEGER`);
  const version = decodeInteger(v.content);
  const originator =
    (await r.peekTag()) === 0xa0 ? await r.readDecoded("the originator information", LIMITS.originatorInfo) : undefined;
  if ((await r.peekTag()) !== TAG.SET) throw malformed("the recipient list is missing");
  const recipients = await readRecipientInfos(r);
  const baseVersion = kind === "authEnvelopedData" ? 0 : envelopedDataVersion(originator, recipients);
  // Version 0 becomes 2 when unprotectedAttrs follow the content: that part is checked by readEnvelopeTail.
  const allowed = kind === "envelopedData" && baseVersion === 0 ? [0n, 2n] : [BigInt(baseVersion)];
  if (!allowed.includes(version)) {
    throw malformed(
      `the ${kind} has version ${version}; RFC ${kind === "authEnvelopedData" ? "5083" : "5652"} requires ${allowed.join(" or ")} here`,
    );
  }
  const eci = await r.expect(TAG.SEQUENCE, "the encrypted content information");
  const ct = await r.readDecoded("the encrypted content type", LIMITS.field);
  if (ct.tag !== TAG.OID) throw malformed("the encrypted content type is not an OID");
  const cipherAlg = parseAlgId(await r.readDecoded("the content encryption algorithm", LIMITS.field), "the cipher");
  let encryptedContent: Header | undefined;
  if (!(await r.atEnd(eci))) {
    encryptedContent = await r.readHeader("the encrypted content");
    if ((encryptedContent.tag & 0xdf) !== 0x80) throw malformed("the encrypted content is not tagged [0]");
  }
  return {
    kind,
    version: Number(version),
    baseVersion,
    envelope,
    recipients,
    eci,
    encryptedContentType: decodeOid(ct.content),
    cipherAlg,
    encryptedContent,
  };
}

/**
 * RFC 5652 6.1: the EnvelopedData version given its originatorInfo and RecipientInfos, for an envelope without
 * unprotectedAttrs (with them, 0 becomes 2): 4 when the originator has "other" certificates or CRLs, 3 when it has
 * v2 attribute certificates or a pwri/ori recipient is present, 0 when there is no originatorInfo and every
 * RecipientInfo is version 0, else 2.
 */
function envelopedDataVersion(originator: Node | undefined, recipients: ParsedRecipients): number {
  const certs = originator?.children.find((c) => c.tag === 0xa0)?.children ?? [];
  const crls = originator?.children.find((c) => c.tag === 0xa1)?.children ?? [];
  if (certs.some((c) => c.tag === 0xa3) || crls.some((c) => c.tag === 0xa1)) return 4;
  if (certs.some((c) => c.tag === 0xa2) || recipients.pwriOrOri) return 3;
  if (!originator && recipients.allVersion0) return 0;
  return 2;
}

export interface EnvelopeTail {
  mac?: Buffer;
  /** DER of authAttrs re-tagged as SET (the GCM AAD), when present. */
  authAttrs?: Buffer;
}

/** After the encrypted content: end of EncryptedContentInfo, attributes, mac, end of all, end of input. */
export async function readEnvelopeTail(
  r: BerReader,
  head: EnvelopeHead,
  start: ContentInfoStart,
): Promise<EnvelopeTail> {
  if (head.encryptedContent) await r.expectEnd(head.eci, "the encrypted content information");
  const out: EnvelopeTail = {};
  if (head.kind === "authEnvelopedData") {
    if ((await r.peekTag()) === 0xa1) {
      const a = await r.readDecoded("the authenticated attributes", LIMITS.envelopeAttributes);
      out.authAttrs = Buffer.concat([Buffer.from([0x31]), a.raw.subarray(1)]);
    }
    const mac = await r.readDecoded("the authentication tag", LIMITS.field);
    if (mac.tag !== TAG.OCTET_STRING) throw malformed("the authentication tag is not an OCTET STRING");
    out.mac = mac.content;
    if ((await r.peekTag()) === 0xa2) await r.readDecoded("the unauthenticated attributes", LIMITS.envelopeAttributes);
  } else {
    const unprotected = (await r.peekTag()) === 0xa1;
    if (unprotected) await r.readDecoded("the unprotected attributes", LIMITS.envelopeAttributes);
    if (head.baseVersion === 0 && head.version !== (unprotected ? 2 : 0)) {
      throw malformed(
        `the envelopedData has version ${head.version}; RFC 5652 requires ${unprotected ? 2 : 0} ${unprotected ? "with" : "without"} unprotected attributes`,
      );
    }
  }
  await r.expectEnd(head.envelope, `the ${head.kind}`);
  await r.expectEnd(start.explicit, "the ContentInfo");
  await r.expectEnd(start.outer, "the ContentInfo");
  if (!(await r.src.atEof())) throw malformed("there are unexpected bytes after the end of the sealed file");
  return out;
}

export function contentTypeName(oid: string): string {
  return oidName(oid);
}

import { type AlgId, parseAlgId } from "./algorithms.js";
import { TAG, decodeInteger, decodeOid, malformed } from "./ber/der.js";
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
  if ((await r.peekTag()) === 0xa0) await r.readDecoded("the originator information", LIMITS.originatorInfo);
  if ((await r.peekTag()) !== TAG.SET) throw malformed("the recipient list is missing");
  const recipients = await readRecipientInfos(r);
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
    version: Number(decodeInteger(v.content)),
    envelope,
    recipients,
    eci,
    encryptedContentType: decodeOid(ct.content),
    cipherAlg,
    encryptedContent,
  };
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
  } else if ((await r.peekTag()) === 0xa1) {
    await r.readDecoded("the unprotected attributes", LIMITS.envelopeAttributes);
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

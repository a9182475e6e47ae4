import type { Readable } from "node:stream";
import { nameToString } from "@sealpost/pki";
import { digestFromAlgId, parseContentCipher, parseSignatureAlg } from "./algorithms.js";
import { parseAttributes, singleValue } from "./attributes.js";
import { dearmor } from "./ber/armor.js";
import { TAG, decodeTime, malformed } from "./ber/der.js";
import { BerReader, ByteSource } from "./ber/reader.js";
import { readContentInfoStart, readEnvelopeHead, readEnvelopeTail } from "./envelope-reader.js";
import { OID, oidName } from "./oids.js";
import { fileCertificates, parseSignerInfo, readSignedData } from "./signed-data-reader.js";
import type { InspectResult } from "./types.js";

const TYPE_NAMES: Record<string, string> = {
  [OID.authEnvelopedData]: "authEnvelopedData",
  [OID.envelopedData]: "envelopedData",
  [OID.signedData]: "signedData",
  [OID.data]: "data",
  [OID.digestedData]: "digestedData",
  [OID.encryptedData]: "encryptedData",
  [OID.authenticatedData]: "authenticatedData",
};

/**
 * Describe a CMS file without any key: its content type, encoding, recipients (for envelopes), cipher, size of the
 * encrypted content, and for a SignedData its signer(s) and certificates. Streams with constant memory (the content
 * is skipped, only the small structures are kept). Nothing is verified: use openFile/verifyFile for that.
 * Throws CmsError TRUNCATED/MALFORMED like openFile (including trailing bytes after the ContentInfo).
 */
export async function inspect(
  input: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<InspectResult> {
  const source = Symbol.asyncIterator in input ? input : ByteSourceInput(input);
  const { armor, chunks } = await dearmor(source);
  const r = new BerReader(ByteSource.from(chunks));
  const start = await readContentInfoStart(r);
  const result: InspectResult = {
    contentType: TYPE_NAMES[start.contentType] ?? oidName(start.contentType),
    encoding: start.outer.length < 0 ? "ber-indefinite" : "der",
    recipients: [],
    certificates: [],
    totalBytes: 0,
  };
  if (armor !== "none") result.armor = armor;
  if (start.contentType === OID.authEnvelopedData || start.contentType === OID.envelopedData) {
    const head = await readEnvelopeHead(r, start.contentType);
    result.recipients = head.recipients.summaries.map(({ issuerDer: _d, ...s }) => s);
    try {
      result.cipher = parseContentCipher(head.cipherAlg, head.kind === "authEnvelopedData").node;
    } catch {
      result.cipher = oidName(head.cipherAlg.oid);
    }
    let n = 0;
    if (head.encryptedContent) {
      for await (const c of r.stringChunks(head.encryptedContent, "the encrypted content")) n += c.length;
    }
    result.encryptedContentBytes = n;
    await readEnvelopeTail(r, head, start);
  } else if (start.contentType === OID.signedData) {
    const sd = await readSignedData(r, await r.readHeader("the signed data"), undefined, { hash: false });
    await r.expectEnd(start.explicit, "the ContentInfo");
    await r.expectEnd(start.outer, "the ContentInfo");
    if (!(await r.src.atEof())) throw malformed("there are unexpected bytes after the end of the file");
    const warnings: string[] = [];
    for (const der of sd.certificates) {
      result.certificates.push(...fileCertificates([der], warnings));
      await r.src.pause(); // certificate parsing is synchronous: let a server answer others in between
    }
    result.eContentType = oidName(sd.eContentType);
    result.contentBytes = sd.contentBytes;
    result.detached = sd.detached;
    result.signers = sd.signerInfos.map((node) => {
      const f = parseSignerInfo(node);
      const s: NonNullable<InspectResult["signer"]> = {};
      if (f.ski) s.subjectKeyIdHex = f.ski.toString("hex");
      else {
        s.serialHex = f.serial!.toString("hex");
        try {
          s.issuer = nameToString(f.issuerDer!);
        } catch {
          s.issuer = `#${f.issuerDer!.toString("hex")}`;
        }
      }
      try {
        s.digest = digestFromAlgId(f.digestAlg);
        s.signatureAlgorithm = parseSignatureAlg(f.signatureAlg, s.digest).name;
      } catch {
        s.signatureAlgorithm ??= oidName(f.signatureAlg.oid);
      }
      if (f.signedAttrs) {
        try {
          const st = singleValue(parseAttributes(f.signedAttrs), OID.signingTime, "signing-time");
          if (st) s.signingTime = decodeTime(st);
        } catch {
          // inspect reports what it can read
        }
      }
      const cert = result.certificates.find((c) =>
        f.ski
          ? c.subjectKeyIdHex === s.subjectKeyIdHex
          : c.serialHex.replace(/^00/, "") === s.serialHex?.replace(/^00/, ""),
      );
      if (cert) {
        s.commonName = cert.commonName;
        s.subject = cert.subject;
      }
      return s;
    });
    result.signer = result.signers[0];
  } else {
    // Other content types: walk to the end to report the size and catch truncation.
    await r.skipContent(start.explicit, "the content");
    await r.expectEnd(start.outer, "the ContentInfo");
    if (!(await r.src.atEof())) throw malformed("there are unexpected bytes after the end of the file");
  }
  if (start.outer.tag !== TAG.SEQUENCE) throw malformed("the file is not a ContentInfo");
  result.totalBytes = r.position;
  return result;
}

async function* ByteSourceInput(it: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* it;
}

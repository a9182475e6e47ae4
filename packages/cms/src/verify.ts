import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";
import { digestFromAlgId } from "./algorithms.js";
import { dearmor } from "./ber/armor.js";
import { malformed } from "./ber/der.js";
import { BerReader, ByteSource } from "./ber/reader.js";
import { readContentInfoStart } from "./envelope-reader.js";
import { CmsError } from "./errors.js";
import { OID, oidName } from "./oids.js";
import { openInput } from "./open.js";
import { type ParsedSignedData, readSignedData, verifySigners } from "./signed-data-reader.js";
import { TempOutput } from "./temp-output.js";
import type { VerifyOptions, VerifyResult } from "./types.js";

/**
 * Verify a signed file (ContentInfo/SignedData, attached or detached; definite or indefinite BER), streaming.
 * Attached content is written to `outPath` (temp file beside it, renamed only after every check passed) when
 * given, else only hashed. Detached signatures need `content` (the content file's path); with an attached signature a
 * `content` file must equal the encapsulated content (same length and SHA-256), else BAD_SIGNATURE with
 * details.reason "content-mismatch" and nothing is written (checks then include "given-content"). The checks are those of
 * openFile's signature part (see verifySigners): BAD_SIGNATURE, TAMPERED (digest mismatch), WEAK_ALGORITHM,
 * UNSUPPORTED_ALGORITHM, UNTRUSTED_SIGNER; a SignedData without signers gives UNSIGNED_CONTENT.
 */
export async function verifyFile(inPath: string, options: VerifyOptions): Promise<VerifyResult> {
  const input = await openInput(inPath);
  const tmp = options.outPath ? await TempOutput.create(options.outPath, options.force) : undefined;
  try {
    const result = await verifyInput(input, tmp ? (b) => tmp.write(b) : undefined, inPath, options);
    if (tmp) await tmp.commit();
    return result;
  } catch (e) {
    await tmp?.abort();
    throw e;
  } finally {
    input.destroy();
  }
}

/** Largest signed object verifyBytes takes (it holds the content in memory). */
export const MAX_VERIFY_BYTES = 16 * 1024 * 1024;

/**
 * Verify a small attached SignedData held in memory (for example a signed roster) and return the verified content
 * with the result. The same checks as verifyFile (signature, digest, algorithms, the signer's path to `trust` and its
 * revocation); the content is returned only after all of them passed. Detached signatures are refused (MALFORMED).
 * Input larger than MAX_VERIFY_BYTES is refused (MALFORMED) before parsing.
 */
export async function verifyBytes(
  signed: Uint8Array,
  options: Pick<VerifyOptions, "trust" | "intermediates">,
): Promise<VerifyResult & { content: Buffer }> {
  if (signed.length > MAX_VERIFY_BYTES) throw malformed(`the signed data is larger than ${MAX_VERIFY_BYTES} bytes`);
  const parts: Buffer[] = [];
  const result = await verifyInput(
    [signed],
    async (b) => {
      parts.push(Buffer.from(b));
    },
    "the signed data",
    options,
  );
  if (result.detached) throw malformed("the signature is detached: the signed content is not in it");
  return { ...result, content: Buffer.concat(parts) };
}

/** The streaming core of verifyFile and verifyBytes; `write` sees attached content before the checks passed. */
async function verifyInput(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  write: ((b: Buffer) => Promise<void>) | undefined,
  inPath: string,
  options: Omit<VerifyOptions, "outPath" | "force">,
): Promise<VerifyResult> {
  const iterable: AsyncIterable<Uint8Array> =
    Symbol.asyncIterator in input
      ? input
      : (async function* () {
          yield* input as Iterable<Uint8Array>;
        })();
  const r = new BerReader(ByteSource.from((await dearmor(iterable)).chunks));
  const start = await readContentInfoStart(r);
  if (start.contentType !== OID.signedData) {
    throw new CmsError(
      "MALFORMED",
      `This file is not a signed file (its content type is ${oidName(start.contentType)}).`,
      {
        hint:
          start.contentType === OID.authEnvelopedData || start.contentType === OID.envelopedData
            ? "It is a sealed (encrypted) file: open it with `sealpost open`."
            : "Check that you chose the right file.",
      },
    );
  }
  const sd: ParsedSignedData = await readSignedData(r, await r.readHeader("the signed data"), write, {
    onProgress: options.onProgress,
  });
  await r.expectEnd(start.explicit, "the ContentInfo");
  await r.expectEnd(start.outer, "the ContentInfo");
  if (!(await r.src.atEof())) throw malformed("there are unexpected bytes after the end of the signed file");
  if (sd.signerInfos.length === 0) {
    throw new CmsError("UNSIGNED_CONTENT", "The file carries no signature (a SignedData without signers).", {
      hint: "This is a certificates-only or unsigned file; ask the sender for a signed one.",
    });
  }
  let detachedDigests: Map<string, Buffer> | undefined;
  let contentBytes = sd.contentBytes;
  const checks: string[] = [];
  if (sd.detached) {
    if (!options.content) {
      throw new CmsError("MALFORMED", "The signature is detached: the signed content must be given separately.", {
        hint: "Pass the content file along with the signature.",
        details: { reason: "detached-without-content" },
      });
    }
    const given = await hashContentFile(options.content, sd, options.onProgress);
    contentBytes = given.bytes;
    detachedDigests = given.digests;
  } else if (options.content) {
    // The signature covers the encapsulated content; a separately given file must be that very content.
    const given = await hashContentFile(options.content, sd);
    if (given.bytes !== sd.contentBytes || !given.digests.get("sha256")!.equals(sd.digests.get("sha256")!)) {
      throw new CmsError(
        "BAD_SIGNATURE",
        `The file ${options.content} differs from the content signed in ${inPath}: the signature does not cover it.`,
        {
          hint: "Verify without --content to check the signed content itself, or ask the sender which file they signed.",
          details: { reason: "content-mismatch", givenBytes: given.bytes, signedBytes: sd.contentBytes },
        },
      );
    }
    checks.push("given-content");
  }
  const v = await verifySigners(sd, { trust: options.trust, intermediates: options.intermediates, detachedDigests });
  const digests = detachedDigests ?? sd.digests;
  return {
    signed: true,
    detached: sd.detached,
    signer: { cert: v.signer, commonName: v.signer.commonName, subject: v.signer.subject },
    signingTime: v.signingTime,
    manifest: v.manifest,
    signatureAlgorithm: v.signatureAlgorithm,
    digest: v.digest,
    contentBytes,
    contentSha256: digests.get("sha256")!.toString("hex"),
    contentType: oidName(sd.eContentType),
    checks: [...v.checks, ...checks],
    warnings: v.warnings,
    trust: v.trust,
  };
}

/** Length and digests (SHA-256 plus every supported digest the SignedData lists) of a content file. */
async function hashContentFile(
  path: string,
  sd: ParsedSignedData,
  onProgress?: (bytes: number) => void,
): Promise<{ bytes: number; digests: Map<string, Buffer> }> {
  const names = new Set(["sha256"]);
  for (const a of sd.digestAlgorithms) {
    try {
      names.add(digestFromAlgId(a));
    } catch {
      // unsupported: fails at the signer check if used
    }
  }
  const hashes = new Map<string, Hash>([...names].map((n) => [n, createHash(n)]));
  let bytes = 0;
  const content = await openInput(path);
  for await (const c of content) {
    for (const h of hashes.values()) h.update(c as Buffer);
    bytes += (c as Buffer).length;
    onProgress?.(bytes);
  }
  return { bytes, digests: new Map([...hashes].map(([k, h]) => [k, h.digest()])) };
}

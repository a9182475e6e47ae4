import { createDecipheriv, randomBytes } from "node:crypto";
import { type HashGroup, hashGroup } from "./hash-thread.js";
import type { DecipherGCM } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { type KeyEntry, keyHandleOf } from "@sealpost/pki";
import { type ContentCipher, parseContentCipher, unsupported } from "./algorithms.js";
import { addresseeOf, forwarded } from "./addressee.js";
import { dearmor } from "./ber/armor.js";
import { malformed } from "./ber/der.js";
import { BerReader, ByteSource } from "./ber/reader.js";
import {
  type ContentInfoStart,
  type EnvelopeHead,
  readContentInfoStart,
  readEnvelopeHead,
  readEnvelopeTail,
} from "./envelope-reader.js";
import { CIPHER_PIECE_BYTES } from "./envelope-writer.js";
import { CmsError } from "./errors.js";
import { FileInput, READ_CHUNK_BYTES } from "./file-input.js";
import { unwrapKey } from "./key-transport.js";
import { OID, oidName } from "./oids.js";
import { type Kari, matchKeyAgreeRecipient, type RecipientEncryptedKey, unwrapKeyAgree } from "./key-agreement.js";
import {
  type Ktri,
  matchRecipient,
  notARecipient,
  type ParsedRecipients,
  recipientSummary,
} from "./recipient-infos.js";
import {
  type CheckedSigner,
  type ParsedSignedData,
  type SignerVerification,
  checkSignatures,
  checkSignerTrust,
  readSignedData,
} from "./signed-data-reader.js";
import { TempOutput, ioError } from "./temp-output.js";
import type { OpenOptions, OpenResult } from "./types.js";

/**
 * Open a sealed file: decrypt with the first of `options.keys` that is a recipient and may decrypt (its certificate
 * allows keyEncipherment / keyAgreement), stream the inner SignedData's content into a temporary file beside
 * `outPath` (`.<name>.sealpost-<mark>-<random>.tmp`, mode 0600) while hashing it, then check in order: the GCM tag or CBC
 * padding, the signature and signed attributes, the signer's trust now (see checkSignatures / checkSignerTrust),
 * and only then rename the temporary file to `outPath`. On any failure the temporary file is removed and a CmsError
 * is thrown; nothing unverified is ever released. Every failure after decryption that an altered file can cause is
 * the one integrityFailure() (TAMPERED), raised after the same work (see the cms README).
 *
 * Accepts AuthEnvelopedData (AES-128/192/256-GCM) and EnvelopedData (AES-128/192/256-CBC; DES-EDE3-CBC with a
 * warning), KeyTransRecipientInfo with RSA-OAEP (parameters honoured) or RSAES-PKCS1-v1_5 (implicit rejection),
 * definite or indefinite BER, and both nestings: encrypted content type id-data holding a ContentInfo/SignedData
 * (what sealpost and `openssl cms -sign | openssl cms -encrypt` write) and id-signedData holding a bare SignedData
 * (strict RFC 5652). Content without a SignedData is refused with UNSIGNED_CONTENT unless `allowUnsigned` (GCM
 * only). Input ending early => TRUNCATED; bytes after the end => MALFORMED.
 * `force` allows replacing an existing outPath (default: OUTPUT_EXISTS). `durable` (default true) syncs the
 * content to the disk (in the background as it grows, and before the rename), so that a crash can never leave a
 * partial file under outPath's name; false skips the sync, as gpg and openssl do, which is faster when the disk is
 * busy but lets a crash in the following seconds leave a truncated file that looks opened.
 */
export async function openFile(
  input: string | Readable,
  outPath: string,
  options: OpenOptions & { force?: boolean; durable?: boolean },
): Promise<OpenResult> {
  // A file is read into reused buffers: the outer reader consumes each chunk before it asks for the next.
  const source = typeof input === "string" ? await FileInput.open(input, { reuse: true }) : input;
  try {
    const tmp = await TempOutput.create(outPath, options.force, options.durable !== false);
    try {
      const result = await openCore(source, (b) => tmp.write(b), options, source instanceof FileInput);
      await tmp.commit();
      return result;
    } catch (e) {
      await tmp.abort();
      throw e;
    }
  } finally {
    if (source instanceof FileInput) await source.close();
  }
}

/** A readable of the file at `path` (1 MiB chunks); CmsError IO when it cannot be opened. */
export async function openInput(path: string): Promise<Readable> {
  const s = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("open", () => resolve());
      s.once("error", reject);
    });
  } catch (e) {
    throw ioError(`cannot read ${path}`, e);
  }
  return s;
}

/** Marks errors raised by the outer (envelope) layer, so they are never re-labelled as inner errors. */
const outerErrors = new WeakSet<object>();

const innerEof = (what: string) => malformed(`the decrypted content ends early (${what})`);

/**
 * The streaming core of openFile: writes verified-later content through `sink` and returns the result once all
 * checks passed. Callers must discard everything `sink` received when it throws.
 */
export async function openStream(
  input: AsyncIterable<Uint8Array>,
  sink: (chunk: Buffer) => Promise<void>,
  options: OpenOptions,
): Promise<OpenResult> {
  return openCore(input, sink, options, false);
}

/**
 * The one error for every failure after decryption that someone who changed the file could have caused: a content
 * key that does not decrypt, a wrong GCM tag or CBC padding and, for CBC (which authenticates nothing), whatever is
 * wrong with the decrypted bytes until the signature over them checked out. One code, one message, no details and
 * no cause, so that how it failed tells nothing about the plaintext (no padding oracle).
 */
export function integrityFailure(): CmsError {
  return new CmsError(
    "TAMPERED",
    "The file failed its integrity check: it was altered or damaged, it was not sealed for your key, or (in a CBC envelope) its content is not signed. Nothing was written.",
    { hint: "Do not use this file; ask the sender to seal it again with sealpost, for your encryption certificate." },
  );
}

/** What the decryption learned about the ciphertext; read only after the plaintext stream ended. */
interface Integrity {
  /** The content key unwrapped, and the GCM tag or the CBC padding checked out. */
  ok: boolean;
}

/** openStream; `borrowed`: the input's chunks are valid only until the next is pulled (see ByteSource). */
async function openCore(
  input: AsyncIterable<Uint8Array>,
  sink: (chunk: Buffer) => Promise<void>,
  options: OpenOptions,
  borrowed: boolean,
): Promise<OpenResult> {
  const { chunks } = await dearmor(input);
  const r = new BerReader(ByteSource.from(chunks, undefined, borrowed));
  const start = await readContentInfoStart(r);
  if (start.contentType !== OID.authEnvelopedData && start.contentType !== OID.envelopedData) {
    if (start.contentType === OID.signedData) {
      throw new CmsError("MALFORMED", "This file is signed but not encrypted: there is nothing to decrypt.", {
        hint: "Verify it with `sealpost verify` instead.",
        details: { contentType: "signedData" },
      });
    }
    throw unsupported(`the content type ${oidName(start.contentType)} (not an encrypted envelope)`);
  }
  const head = await readEnvelopeHead(r, start.contentType);
  const checks: string[] = [];
  const warnings: string[] = [];
  const match = findRecipient(head.recipients, options.keys);
  if (!match.key) {
    const others = head.recipients.summaries.filter((x) => x.type !== "ktri" && x.type !== "kari");
    if (head.recipients.ktris.length === 0 && head.recipients.karis.length === 0 && others.length > 0) {
      throw unsupported(
        `recipients of type ${[...new Set(others.map((x) => x.type))].join(", ")} (sealpost opens RSA key transport and ECDH recipients only)`,
      );
    }
    throw notARecipient(head.recipients.summaries, options.keys, match.refused);
  }
  checks.push("recipient");
  const cipher = parseContentCipher(head.cipherAlg, head.kind === "authEnvelopedData");
  if (cipher.warning) warnings.push(cipher.warning);
  if (!head.encryptedContent) throw unsupported("detached encrypted content");
  // A content key that does not unwrap (OAEP, AES key wrap) is replaced by a random one, as PKCS#1 v1.5 implicit
  // rejection does: the file then fails where every other failure after decryption fails, after the same work.
  const { cek: unwrapped, keyTransport } = await recoverContentKey(match, cipher.keyLength);
  const integrity: Integrity = { ok: unwrapped !== undefined };
  const cek = unwrapped ?? randomBytes(cipher.keyLength);
  checks.push(match.kari ? "key-agreement" : "key-transport");

  const plaintext = decrypt(r, head, start, cipher, cek, integrity, checks);
  const it = plaintext[Symbol.asyncIterator]();
  const inner = new BerReader(new ByteSource(it, innerEof));
  let contentBytes = 0;
  let contentHash: HashGroup | undefined; // readSignedData hashes SHA-256 itself; unsigned content is hashed here
  const counted = async (b: Buffer) => {
    contentHash?.update(b);
    contentBytes += b.length;
    await sink(b);
    options.onProgress?.(contentBytes);
  };

  let nesting: OpenResult["nesting"] = "id-data";
  let parsed: ParsedSignedData | undefined;
  let innerFailure: unknown;
  try {
    if (head.encryptedContentType === OID.signedData) {
      nesting = "id-signedData";
      parsed = await readSignedData(inner, await inner.readHeader("the signed data"), counted);
    } else if (head.encryptedContentType === OID.data) {
      if (await looksSigned(inner.src)) {
        const ci = await readContentInfoStart(inner);
        parsed = await readSignedData(inner, await inner.readHeader("the signed data"), counted);
        await inner.expectEnd(ci.explicit, "the signed ContentInfo");
        await inner.expectEnd(ci.outer, "the signed ContentInfo");
      } else {
        // Unsigned content goes through the same work as signed content; whether it may be released is decided
        // once the whole file was read (never for CBC, see below).
        contentHash = hashGroup(["sha256"]);
        for (;;) {
          if (await inner.src.atEof()) break;
          await counted(await inner.src.readSome(READ_CHUNK_BYTES));
        }
      }
    } else {
      throw unsupported(`the encrypted content type ${oidName(head.encryptedContentType)}`);
    }
    if (!(await inner.src.atEof())) throw malformed("there are unexpected bytes after the signed content");
  } catch (e) {
    innerFailure = e;
  }
  if (innerFailure !== undefined) {
    if (isOuter(innerFailure)) throw innerFailure; // the envelope itself is cut short or malformed
    if (innerFailure instanceof CmsError && innerFailure.code === "IO") throw innerFailure; // the sink failed: stop
    // The same work as for a file whose content is well-formed: the rest of the plaintext is decrypted, hashed and
    // written like content, and the tag or padding is checked, before anything is reported.
    contentHash ??= hashGroup(["sha256"]);
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      await counted(n.value);
    }
  }
  if (!integrity.ok) throw integrityFailure();
  // Past this point a GCM file is authentic: it was written by someone who held the content key (the sender or a
  // recipient), so its own faults may be named. A CBC file is not, until its signature checked out.
  let checked: CheckedSigner[] | undefined;
  if (cipher.aead) {
    if (innerFailure !== undefined) throw innerFailure;
    if (parsed) checked = checkSignatures(parsed, { intermediates: options.intermediates });
  } else {
    if (innerFailure !== undefined || !parsed) throw integrityFailure();
    try {
      checked = checkSignatures(parsed, { intermediates: options.intermediates });
    } catch {
      throw integrityFailure();
    }
  }

  const result: OpenResult = {
    signed: parsed !== undefined,
    cipher: cipher.node,
    keyTransport,
    contentBytes,
    contentSha256: (parsed ? parsed.digests.get("sha256")! : (await contentHash!.digests())[0]!).toString("hex"),
    recipient: recipientSummary(match.key.cert),
    checks,
    warnings,
    nesting,
  };
  if (!parsed || !checked) {
    if (!options.allowUnsigned) {
      throw new CmsError("UNSIGNED_CONTENT", "The decrypted content is not signed, so its sender cannot be verified.", {
        hint: "Ask the sender to seal it with sealpost (which signs), or open it with --allow-unsigned if you accept that.",
      });
    }
    warnings.push("The content is not signed: its sender could not be verified.");
    return result;
  }
  const v: SignerVerification = await checkSignerTrust(checked, {
    trust: options.trust,
    intermediates: options.intermediates,
  });
  checks.push(...v.checks);
  warnings.push(...v.warnings);
  result.signer = { cert: v.signer, commonName: v.signer.commonName, subject: v.signer.subject };
  result.signingTime = v.signingTime;
  result.manifest = v.manifest;
  result.signatureAlgorithm = v.signatureAlgorithm;
  result.digest = v.digest;
  result.trust = v.trust;
  const addressee = addresseeOf(v.manifest, match.key.cert, options.openerAgencies);
  if (addressee.verdict === "named") checks.push("addressee");
  else if (addressee.verdict === "not-named") {
    const err = forwarded(v.manifest!, match.key.cert, addressee);
    if (!options.allowForwarded) throw err;
    warnings.push(`${err.message} Opened anyway (forwarded copies allowed).`);
  }
  return result;
}

function isOuter(e: unknown): boolean {
  return typeof e === "object" && e !== null && outerErrors.has(e);
}

/** The caller's key and the RecipientInfo it opens: key transport (ktri) or key agreement (kari + rek). */
interface RecipientMatch {
  key: KeyEntry;
  ktri?: Ktri;
  kari?: Kari;
  rek?: RecipientEncryptedKey;
}

/**
 * The first of the caller's decryption keys that a RecipientInfo names (key transport first, then key agreement);
 * `refused` lists keys that were named but whose certificate is not for decryption (never used).
 */
function findRecipient(
  recipients: ParsedRecipients,
  keys: KeyEntry[],
): (RecipientMatch & { refused: KeyEntry[] }) | { key: undefined; refused: KeyEntry[] } {
  const kt = matchRecipient(recipients.ktris, keys);
  if (kt.key) return kt;
  const ka = matchKeyAgreeRecipient(recipients.karis, keys);
  return ka.key
    ? { ...ka, refused: [...kt.refused, ...ka.refused] }
    : { key: undefined, refused: [...kt.refused, ...ka.refused] };
}

/**
 * The content-encryption key through the matched key's handle (one RSA or ECDH operation, wherever the key lives)
 * and the name of the method; `cek` undefined when it cannot be recovered (wrong key, altered RecipientInfo): the
 * caller goes on with a random key and reports the one integrity failure at the end.
 */
async function recoverContentKey(
  m: RecipientMatch,
  keyLength: number,
): Promise<{ cek: Buffer | undefined; keyTransport: string }> {
  const handle = keyHandleOf(m.key);
  if (m.kari && m.rek) {
    if (m.kari.alg instanceof Error) throw m.kari.alg;
    return { cek: await unwrapKeyAgree(handle, m.kari, m.rek, keyLength), keyTransport: m.kari.alg.name };
  }
  const ktri = m.ktri!;
  if (ktri.alg instanceof Error) throw ktri.alg;
  if (handle.algorithm !== "rsa") throw unsupported(`an ${handle.algorithm} private key for RSA key transport`);
  return { cek: await unwrapKey(handle, ktri.encryptedKey, ktri.alg, keyLength), keyTransport: ktri.alg.name };
}

/**
 * Decrypt the encrypted content as chunks; after the last chunk, read the trailer and check the GCM tag or the CBC
 * padding. A failed check is recorded in `integrity` (the stream then simply ends): the caller decides what to
 * report once everything was read. Errors of the envelope's own structure (truncation, trailing bytes) are thrown
 * and marked as outer errors.
 */
async function* decrypt(
  r: BerReader,
  head: EnvelopeHead,
  start: ContentInfoStart,
  cipher: ContentCipher,
  cek: Buffer,
  integrity: Integrity,
  checks: string[],
): AsyncGenerator<Buffer> {
  try {
    const decipher = cipher.aead
      ? createDecipheriv(cipher.node as "aes-256-gcm", cek, cipher.iv, { authTagLength: cipher.tagLength })
      : createDecipheriv(cipher.node, cek, cipher.iv);
    for await (const c of r.stringChunks(head.encryptedContent!, "the encrypted content")) {
      for (let off = 0; off < c.length; off += CIPHER_PIECE_BYTES) {
        const p = decipher.update(c.subarray(off, off + CIPHER_PIECE_BYTES));
        if (p.length) yield p;
      }
    }
    const tail = await readEnvelopeTail(r, head, start);
    if (cipher.aead) {
      if (tail.authAttrs) throw unsupported("authenticated attributes in AuthEnvelopedData");
      // A missing or odd-sized tag fails at the same final() as a wrong one.
      const goodLength = tail.mac !== undefined && tail.mac.length === cipher.tagLength;
      if (!goodLength) integrity.ok = false;
      (decipher as DecipherGCM).setAuthTag(goodLength ? tail.mac! : Buffer.alloc(cipher.tagLength));
    }
    let last: Buffer | undefined;
    try {
      last = decipher.final();
    } catch {
      integrity.ok = false;
    }
    if (integrity.ok) checks.push(cipher.aead ? "gcm-tag" : "cbc-padding");
    if (last?.length) yield last;
  } catch (e) {
    if (typeof e === "object" && e !== null) outerErrors.add(e);
    throw e;
  } finally {
    cek.fill(0);
  }
}

/** True when the next bytes start a ContentInfo of type id-signedData. */
async function looksSigned(src: ByteSource): Promise<boolean> {
  const p = await src.peek(24);
  if (p.length < 2 || p[0] !== 0x30) return false;
  let i = 1;
  const l = p[i++]!;
  if (l > 0x80) i += l & 0x7f;
  const oid = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
  return p.subarray(i, i + oid.length).equals(oid);
}

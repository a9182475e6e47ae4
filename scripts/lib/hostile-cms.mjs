// Hostile CMS inputs for the parser bounds tests, the memory child and the fuzzer's seeds. Each generator yields
// the file as 64 KiB chunks made on the fly (never the whole file in memory), so a test can stream hundreds of
// MiB through a parser and measure the parser alone. Sizes are total file bytes.

const CHUNK = 64 * 1024;

/** DER length octets; `long` forces the 4-byte long form (fixed-size headers for exact totals). */
export function derLength(n, long = false) {
  if (!long && n < 0x80) return Buffer.from([n]);
  if (long) return Buffer.from([0x84, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a one-byte tag. */
export function tlv(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const hex = (h) => Buffer.from(h, "hex");
export const OIDS = {
  authEnvelopedData: hex("060b2a864886f70d0109100117"),
  envelopedData: hex("06092a864886f70d010703"),
  signedData: hex("06092a864886f70d010702"),
  digestedData: hex("06092a864886f70d010705"),
  data: hex("06092a864886f70d010701"),
  aes256Gcm: hex("060960864801650304012e"),
  rsaEncryption: hex("06092a864886f70d010101"),
  sha256: hex("0609608648016503040201"),
};
const EOC = Buffer.from([0, 0]);
const INDEFINITE_SEQ = Buffer.from([0x30, 0x80]);

/** A structurally valid RecipientInfo (key transport to a made-up issuer/serial, RSA PKCS#1 v1.5). */
export function ktri(serial = 1) {
  const issuer = tlv(0x30, tlv(0x31, tlv(0x30, hex("0603550403"), tlv(0x0c, Buffer.from("hostile test issuer")))));
  return tlv(
    0x30,
    tlv(0x02, Buffer.from([0])),
    tlv(0x30, issuer, tlv(0x02, Buffer.from([serial & 0x7f]))),
    tlv(0x30, OIDS.rsaEncryption, Buffer.from([0x05, 0x00])),
    tlv(0x04, Buffer.alloc(256, 0x5a)),
  );
}

/** AES-256-GCM AlgorithmIdentifier with a 12-byte nonce and a 16-byte tag. */
export function gcmAlg() {
  return tlv(0x30, OIDS.aes256Gcm, tlv(0x30, tlv(0x04, Buffer.alloc(12, 1)), tlv(0x02, Buffer.from([16]))));
}

/** `pattern` repeated to fill `bytes` bytes, as chunks of about 64 KiB (whole patterns only). */
function* repeat(pattern, bytes) {
  const per = Math.max(1, Math.floor(CHUNK / pattern.length));
  const block = Buffer.concat(Array(per).fill(pattern));
  let left = bytes;
  while (left >= block.length) {
    yield block;
    left -= block.length;
  }
  if (left > 0) yield block.subarray(0, left - (left % pattern.length));
}

/**
 * The payload of the report: an AuthEnvelopedData whose RecipientInfos SET is `a4 00` (an empty [4]
 * OtherRecipientInfo) repeated, `total` bytes in all (default 16,777,186), definite lengths throughout.
 */
export function* emptyRecipients(total = 16_777_186) {
  const eci = tlv(0x30, OIDS.data, gcmAlg(), Buffer.from([0x80, 0x00]));
  let mac = tlv(0x04, Buffer.alloc(16));
  // ContentInfo, [0], AuthEnvelopedData and the SET get 5-byte length fields: the total is exact.
  const fixed = 5 + 1 + OIDS.authEnvelopedData.length + 5 + 1 + 5 + 1 + 3 + 5 + 1 + eci.length;
  let riBytes = total - fixed - mac.length;
  if (riBytes % 2) {
    mac = tlv(0x04, Buffer.alloc(17));
    riBytes -= 1;
  }
  const setLen = riBytes;
  const envLen = 3 + 6 + setLen + eci.length + mac.length;
  const explicitLen = 6 + envLen;
  const ciLen = OIDS.authEnvelopedData.length + 6 + explicitLen;
  yield Buffer.concat([
    Buffer.from([0x30]),
    derLength(ciLen, true),
    OIDS.authEnvelopedData,
    Buffer.from([0xa0]),
    derLength(explicitLen, true),
    Buffer.from([0x30]),
    derLength(envLen, true),
    tlv(0x02, Buffer.from([0])),
    Buffer.from([0x31]),
    derLength(setLen, true),
  ]);
  yield* repeat(Buffer.from([0xa4, 0x00]), riBytes);
  yield Buffer.concat([eci, mac]);
}

/**
 * An AuthEnvelopedData (indefinite lengths) with one RecipientInfo whose encrypted content is OCTET STRING
 * segments of `segment` bytes (default 2: 4 input bytes per 2 content bytes), `total` bytes in all (about).
 */
export function* shortSegments(total, segment = 2) {
  const head = Buffer.concat([
    INDEFINITE_SEQ,
    OIDS.authEnvelopedData,
    Buffer.from([0xa0, 0x80]),
    INDEFINITE_SEQ,
    tlv(0x02, Buffer.from([0])),
    tlv(0x31, ktri()),
    INDEFINITE_SEQ,
    OIDS.data,
    gcmAlg(),
    Buffer.from([0xa0, 0x80]),
  ]);
  const tail = Buffer.concat([EOC, EOC, tlv(0x04, Buffer.alloc(16)), EOC, EOC, EOC]);
  const seg = Buffer.concat([Buffer.from([0x04, segment]), Buffer.alloc(segment, 0xc3)]);
  yield head;
  yield* repeat(seg, total - head.length - tail.length);
  yield tail;
}

/** `head`, then `30 00` (an empty SEQUENCE) repeated, then `tail`: `total` bytes in all. */
function* flood(head, tail, total) {
  yield head;
  yield* repeat(Buffer.from([0x30, 0x00]), total - head.length - tail.length);
  yield tail;
}

/** The opening of an indefinite ContentInfo of `type` and of its content SEQUENCE, then `fields`. */
const opening = (type, ...fields) =>
  Buffer.concat([INDEFINITE_SEQ, type, Buffer.from([0xa0, 0x80]), INDEFINITE_SEQ, ...fields]);

/** The fields of a SignedData up to its encapsulated content: version 1, SHA-256, content type id-data. */
const signedDataFields = (content = Buffer.alloc(0)) => [
  tlv(0x02, Buffer.from([1])),
  tlv(0x31, tlv(0x30, OIDS.sha256)),
  tlv(0x30, OIDS.data, content),
];

/** A ContentInfo of an unknown-to-sealpost type (DigestedData) whose content is a SEQUENCE of `30 00`, indefinite. */
export function emptyElements(total) {
  return flood(opening(OIDS.digestedData), Buffer.concat([EOC, EOC, EOC]), total);
}

/** A SignedData (detached) whose certificates [0] hold `30 00` repeated, indefinite. */
export function emptyCertificates(total) {
  const head = opening(OIDS.signedData, ...signedDataFields(), Buffer.from([0xa0, 0x80]));
  return flood(head, Buffer.concat([EOC, tlv(0x31), EOC, EOC, EOC]), total);
}

/** An AuthEnvelopedData whose originatorInfo [0] (indefinite) holds `30 00` repeated. */
export function emptyOriginatorElements(total) {
  const head = opening(OIDS.authEnvelopedData, tlv(0x02, Buffer.from([0])), Buffer.from([0xa0, 0x80, 0xa0, 0x80]));
  return flood(head, Buffer.concat([EOC, EOC, tlv(0x31, ktri()), EOC, EOC, EOC]), total);
}

/** A SignedData whose signerInfos SET holds `30 00` repeated (definite content, indefinite SET). */
export function emptySignerInfos(total) {
  const content = tlv(0xa0, tlv(0x04, Buffer.from("hello")));
  const head = opening(OIDS.signedData, ...signedDataFields(content), Buffer.from([0x31, 0x80]));
  return flood(head, Buffer.concat([EOC, EOC, EOC, EOC]), total);
}

/** An AuthEnvelopedData (indefinite lengths) with `count` key-transport recipients and 16 bytes of content. */
export function manyRecipients(count) {
  const ris = [];
  for (let i = 0; i < count; i++) ris.push(ktri(i));
  return Buffer.concat([
    INDEFINITE_SEQ,
    OIDS.authEnvelopedData,
    Buffer.from([0xa0, 0x80]),
    INDEFINITE_SEQ,
    tlv(0x02, Buffer.from([0])),
    Buffer.from([0x31, 0x80]),
    ...ris,
    EOC,
    INDEFINITE_SEQ,
    OIDS.data,
    gcmAlg(),
    tlv(0x80, Buffer.alloc(16, 7)),
    EOC,
    tlv(0x04, Buffer.alloc(16)),
    EOC,
    EOC,
    EOC,
  ]);
}

/** Every kind above, by name: (total) => chunk generator. */
export const HOSTILE = {
  emptyRecipients,
  shortSegments: (total) => shortSegments(total, 2),
  emptyElements,
  emptyCertificates,
  emptyOriginatorElements,
  emptySignerInfos,
};

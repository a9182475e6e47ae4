// Merges several PKCS#12 files written by `openssl pkcs12 -export` (same password, SHA-256 MAC) into one PFX, the
// way a government IC card export holds two key pairs (signing and encryption) in one file. The OpenSSL CLI can
// put only one private key in a PKCS#12, so this concatenates the inputs' AuthenticatedSafe contents (each bag keeps
// its own PBES2 encryption and salt) and computes a fresh HMAC-SHA256 MAC over the result (RFC 7292 appendix B KDF).
//
// Usage: P12_PIN=... node scripts/pki/merge-p12.mjs OUT.p12 IN1.p12 IN2.p12 [...]
// The password is read from the environment variable P12_PIN (never from argv). Inputs must be DER with definite
// lengths, as OpenSSL writes them, and use a SHA-256 MAC. Test-fixture tooling only.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

/** Reads one DER TLV at `off` (single-byte tags, definite lengths). */
function tlv(buf, off) {
  const tag = buf[off];
  let len = buf[off + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error("unsupported DER length form");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i];
    hdr = 2 + n;
  }
  return { tag, start: off + hdr, end: off + hdr + len, off };
}

/** Children of a constructed TLV. */
function children(buf, node) {
  const out = [];
  let p = node.start;
  while (p < node.end) {
    const c = tlv(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

function encLen(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encLen(body.length), body]);
}

/** PKCS#12 key derivation (RFC 7292 B.2) for one u-byte block with SHA-256 (v = 64, u = 32): enough for a MAC key. */
function pkcs12MacKey(password, salt, iterations) {
  const v = 64;
  const pw = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2);
  const fill = (src) => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  const D = Buffer.alloc(v, 3); // ID 3 = MAC key
  let a = Buffer.concat([D, fill(salt), fill(pw)]);
  for (let i = 0; i < iterations; i++) a = createHash("sha256").update(a).digest();
  return a;
}

const [outPath, ...inputs] = process.argv.slice(2);
const password = process.env.P12_PIN;
if (!outPath || inputs.length < 2 || password === undefined) {
  console.error("usage: P12_PIN=... node merge-p12.mjs OUT.p12 IN1.p12 IN2.p12 [...]");
  process.exit(2);
}

const SHA256_OID = Buffer.from("0609608648016503040201", "hex");
const DATA_OID = Buffer.from("06092a864886f70d010701", "hex");
let iterations = 2048;
const safes = [];
for (const [n, path] of inputs.entries()) {
  const buf = readFileSync(path);
  const pfx = tlv(buf, 0);
  const [, authSafe, macData] = children(buf, pfx);
  if (!macData) throw new Error(`${path}: no MAC`);
  const [, mac, , iter] = [null, ...children(buf, macData)];
  const digestAlg = children(buf, children(buf, mac)[0])[0];
  if (!buf.subarray(digestAlg.off, digestAlg.end).equals(SHA256_OID)) throw new Error(`${path}: MAC is not SHA-256`);
  if (n === 0 && iter) iterations = Number.parseInt(buf.subarray(iter.start, iter.end).toString("hex"), 16);
  const [, explicit] = children(buf, authSafe);
  const octets = children(buf, explicit)[0];
  const seq = tlv(buf, octets.start);
  for (const ci of children(buf, seq)) safes.push(buf.subarray(ci.off, ci.end));
}

const authSafeContent = der(0x30, ...safes);
const salt = randomBytes(16);
const key = pkcs12MacKey(password, salt, iterations);
const digest = createHmac("sha256", key).update(authSafeContent).digest();
let iterHex = iterations.toString(16);
if (iterHex.length % 2) iterHex = "0" + iterHex;
if (Number.parseInt(iterHex.slice(0, 2), 16) & 0x80) iterHex = "00" + iterHex;
const intBody = Buffer.from(iterHex, "hex");
const pfx = der(
  0x30,
  der(0x02, Buffer.from([3])),
  der(0x30, DATA_OID, der(0xa0, der(0x04, authSafeContent))),
  der(
    0x30,
    der(0x30, der(0x30, SHA256_OID, Buffer.from([0x05, 0x00])), der(0x04, digest)),
    der(0x04, salt),
    der(0x02, intBody),
  ),
);
writeFileSync(outPath, pfx, { mode: 0o600 });

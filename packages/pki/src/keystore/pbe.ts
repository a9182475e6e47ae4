import { createDecipheriv, createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { createRequire } from "node:module";
import { PkiError } from "../errors.js";
import { algorithm, type Block, children, malformed, octets, oid, smallInt } from "./asn1.js";
import {
  checkPbmac1KeyLength,
  KdfBudget,
  type KdfCost,
  pbkdf2Cost,
  pkcs12KdfCost,
  recordKdfWork,
} from "./kdf-budget.js";

/**
 * Password-based cryptography of PKCS#12 (RFC 7292) and PKCS#5 v2 (RFC 8018): the PKCS#12 key derivation (appendix
 * B), the legacy pbeWithSHAAnd* schemes, PBES2 (PBKDF2 + AES/3DES-CBC), the PKCS#12 HMAC and PBMAC1 (RFC 9579).
 * RC2 comes from node-forge (OpenSSL 3 keeps it in the legacy provider Node does not load); everything else is
 * node:crypto. Every derivation is charged to a KdfBudget (kdf-budget.ts) from its parameters before it runs, so a
 * hostile file cannot stall the process; the functions that derive take the file's budget (default: a fresh one).
 */

/** A password as given (null = absent, which PKCS#12 distinguishes from the empty string). */
export type Password = string | null;

/** PKCS#12 password encoding: BMPString (UTF-16BE) with a 2-byte NUL terminator; an absent password is no bytes. */
export function bmpPassword(pw: Password): Buffer {
  if (pw === null) return Buffer.alloc(0);
  const out = Buffer.alloc(pw.length * 2 + 2);
  for (let i = 0; i < pw.length; i++) out.writeUInt16BE(pw.charCodeAt(i), i * 2);
  return out;
}

/** PBES2/PBMAC1 password encoding: UTF-8 bytes (what OpenSSL passes); an absent password is no bytes. */
export function utf8Password(pw: Password): Buffer {
  return pw === null ? Buffer.alloc(0) : Buffer.from(pw, "utf8");
}

const DIGESTS: Record<string, { name: string; u: number; v: number }> = {
  "1.3.14.3.2.26": { name: "sha1", u: 20, v: 64 },
  "2.16.840.1.101.3.4.2.4": { name: "sha224", u: 28, v: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "sha256", u: 32, v: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "sha384", u: 48, v: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "sha512", u: 64, v: 128 },
};

const HMAC_PRFS: Record<string, string> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

function unsupported(what: string, algOid: string): PkiError {
  return new PkiError(
    "UNSUPPORTED_ALGORITHM",
    `The keystore uses ${what} (${algOid}), which sealpost does not support.`,
    {
      hint: "Export the keystore again with current settings, e.g. `openssl pkcs12 -export` (AES-256, PBKDF2).",
      details: { algorithm: algOid },
    },
  );
}

function iterationCount(b: Block | undefined, what: string): number {
  const n = smallInt(b, what);
  if (n < 1) throw malformed(what);
  return n;
}

/** PBKDF2 through node:crypto, its work recorded. */
function pbkdf2(password: Uint8Array, salt: Uint8Array, cost: KdfCost, keyLength: number, prf: string): Buffer {
  const key = pbkdf2Sync(password, salt, cost.iterations, keyLength, prf);
  recordKdfWork(cost);
  return key;
}

/**
 * The PKCS#12 key derivation function (RFC 7292 appendix B.2). `id` is 1 (key), 2 (IV) or 3 (MAC key); `password`
 * is already BMP-encoded. Returns `n` bytes.
 */
export function pkcs12Kdf(
  hash: string,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  id: 1 | 2 | 3,
  n: number,
): Buffer {
  const d = Object.values(DIGESTS).find((x) => x.name === hash);
  if (!d) throw new Error(`pkcs12Kdf: unknown hash ${hash}`);
  const { u, v } = d;
  const fill = (src: Uint8Array): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const len = v * Math.ceil(src.length / v);
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    blocks.push(A);
    if (produced + u >= n) break;
    const B = Buffer.alloc(v);
    for (let i = 0; i < v; i++) B[i] = A[i % u]!;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  recordKdfWork(pkcs12KdfCost("PKCS#12 KDF", iterations, hash, [n]));
  return Buffer.concat(blocks).subarray(0, n);
}

/** Thrown (internally) when decryption fails its padding check: the caller maps it to BAD_PIN or MALFORMED. */
export class DecryptionFailed extends Error {}

function cbcDecrypt(cipher: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch (e) {
    throw new DecryptionFailed("decryption failed", { cause: e });
  }
}

function rc2Decrypt(key: Uint8Array, bits: number, iv: Uint8Array, data: Uint8Array): Buffer {
  // Loaded on first use: node-forge costs about 10 MiB of RSS, and only legacy RC2 keystores need it.
  const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");
  const c = forge.rc2.createDecryptionCipher(forge.util.binary.raw.encode(key), bits);
  c.start(forge.util.binary.raw.encode(iv));
  c.update(forge.util.createBuffer(forge.util.binary.raw.encode(data)));
  if (!c.finish()) throw new DecryptionFailed("decryption failed");
  return Buffer.from(c.output.getBytes(), "binary");
}

const PKCS12_PBE: Record<string, { cipher: "3des" | "2des" | "rc2"; keyLen: number; rc2Bits?: number }> = {
  "1.2.840.113549.1.12.1.3": { cipher: "3des", keyLen: 24 },
  "1.2.840.113549.1.12.1.4": { cipher: "2des", keyLen: 16 },
  "1.2.840.113549.1.12.1.5": { cipher: "rc2", keyLen: 16, rc2Bits: 128 },
  "1.2.840.113549.1.12.1.6": { cipher: "rc2", keyLen: 5, rc2Bits: 40 },
};

const PBES2_CIPHERS: Record<string, { name: string; keyLen: number; ivLen: number }> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLen: 16, ivLen: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLen: 24, ivLen: 16 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLen: 32, ivLen: 16 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyLen: 24, ivLen: 8 },
};

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
export const OID_PBMAC1 = "1.2.840.113549.1.5.14";

/** PBKDF2 parameters (RFC 8018 A.2). keyLength may be absent (then the cipher decides). */
function parsePbkdf2(params: Block | undefined): {
  salt: Uint8Array;
  iterations: number;
  keyLength?: number;
  prf: string;
} {
  const c = children(params, "PBKDF2 parameters", 2, 4);
  const salt = octets(c[0], "PBKDF2 salt");
  const iterations = iterationCount(c[1], "PBKDF2 iteration count");
  let i = 2;
  let keyLength: number | undefined;
  if (c[i] && c[i]!.idBlock.tagClass === 1 && c[i]!.idBlock.tagNumber === 2)
    keyLength = smallInt(c[i++], "PBKDF2 key length");
  let prf = "sha1";
  if (c[i]) {
    const a = algorithm(c[i], "PBKDF2 PRF");
    const name = HMAC_PRFS[a.oid];
    if (!name) throw unsupported("a PBKDF2 pseudo-random function", a.oid);
    prf = name;
  }
  return keyLength === undefined ? { salt, iterations, prf } : { salt, iterations, keyLength, prf };
}

/** A parsed password-based encryption scheme: what its KDF costs, and how to decrypt once charged. */
interface PbeScheme {
  cost: KdfCost;
  decrypt(password: Password, data: Uint8Array): Buffer;
}

/**
 * Parses a password-based encryption AlgorithmIdentifier (PBES2 or PKCS#12 PBE) without deriving anything.
 * Throws PkiError UNSUPPORTED_ALGORITHM or MALFORMED.
 */
function pbeScheme(algId: Block | undefined): PbeScheme {
  const alg = algorithm(algId, "encryption algorithm");
  const legacy = PKCS12_PBE[alg.oid];
  if (legacy) {
    const p = children(alg.params, "PKCS#12 PBE parameters", 2, 2);
    const salt = octets(p[0], "PBE salt");
    const iterations = iterationCount(p[1], "PBE iteration count");
    return {
      cost: pkcs12KdfCost("PKCS#12 PBE", iterations, "sha1", [legacy.keyLen, 8]),
      decrypt(password, data) {
        const pw = bmpPassword(password);
        const key = pkcs12Kdf("sha1", pw, salt, iterations, 1, legacy.keyLen);
        const iv = pkcs12Kdf("sha1", pw, salt, iterations, 2, 8);
        if (legacy.cipher === "rc2") return rc2Decrypt(key, legacy.rc2Bits!, iv, data);
        return cbcDecrypt(legacy.cipher === "3des" ? "des-ede3-cbc" : "des-ede-cbc", key, iv, data);
      },
    };
  }
  if (alg.oid === OID_PBES2) {
    const s = pbes2Scheme(alg.params);
    return { cost: s.cost, decrypt: (password, data) => s.decrypt(utf8Password(password), data) };
  }
  if (alg.oid.startsWith("1.2.840.113549.1.12.1.")) throw unsupported("an RC4 password-based cipher", alg.oid);
  throw unsupported("a password-based cipher", alg.oid);
}

/** What the KDF of a password-based encryption AlgorithmIdentifier costs (for planning a file's budget). */
export function pbeCost(algId: Block | undefined): KdfCost {
  return pbeScheme(algId).cost;
}

/**
 * Decrypts data under a password-based encryption AlgorithmIdentifier (PBES2 or PKCS#12 PBE), charging its KDF to
 * `budget` first. Throws DecryptionFailed on bad padding (wrong password), PkiError KDF_LIMIT,
 * UNSUPPORTED_ALGORITHM or MALFORMED.
 */
export function pbeDecrypt(
  algId: Block | undefined,
  password: Password,
  data: Uint8Array,
  budget: KdfBudget = new KdfBudget(),
): Buffer {
  const scheme = pbeScheme(algId);
  budget.charge(scheme.cost);
  return scheme.decrypt(password, data);
}

function pbes2Scheme(params: Block | undefined): {
  cost: KdfCost;
  decrypt(password: Uint8Array, data: Uint8Array): Buffer;
} {
  const p = children(params, "PBES2 parameters", 2, 2);
  const kdf = algorithm(p[0], "PBES2 key derivation function");
  if (kdf.oid !== OID_PBKDF2) throw unsupported("a PBES2 key derivation function", kdf.oid);
  const enc = algorithm(p[1], "PBES2 encryption scheme");
  const cipher = PBES2_CIPHERS[enc.oid];
  if (!cipher) throw unsupported("a PBES2 cipher", enc.oid);
  const iv = octets(enc.params, "PBES2 IV");
  if (iv.length !== cipher.ivLen) throw malformed("PBES2 IV");
  const k = parsePbkdf2(kdf.params);
  if (k.keyLength !== undefined && k.keyLength !== cipher.keyLen) throw malformed("PBKDF2 key length");
  const cost = pbkdf2Cost("PBKDF2 of PBES2", k.iterations, cipher.keyLen, k.prf);
  return {
    cost,
    decrypt: (password, data) =>
      cbcDecrypt(cipher.name, pbkdf2(password, k.salt, cost, cipher.keyLen, k.prf), iv, data),
  };
}

/**
 * PBES2 (RFC 8018 6.2) decryption with the password as bytes (UTF-8 for PKCS#12 and PKCS#8, as OpenSSL does):
 * PBKDF2 with HMAC-SHA-1/2, then AES-128/192/256-CBC or DES-EDE3-CBC, the KDF charged to `budget` first. Throws
 * DecryptionFailed on bad padding, PkiError KDF_LIMIT, UNSUPPORTED_ALGORITHM or MALFORMED.
 */
export function pbes2Decrypt(
  params: Block | undefined,
  password: Uint8Array,
  data: Uint8Array,
  budget: KdfBudget = new KdfBudget(),
): Buffer {
  const s = pbes2Scheme(params);
  budget.charge(s.cost);
  return s.decrypt(password, data);
}

/** A parsed PFX MAC: what its KDF costs, and how to compute it for one password once charged. */
interface PfxMac {
  cost: KdfCost;
  compute(password: Password, data: Uint8Array): Buffer;
}

/**
 * Parses the PFX integrity MAC (RFC 7292 HMAC with the PKCS#12 KDF, or RFC 9579 PBMAC1) without deriving anything.
 * `macAlg` is the DigestInfo's AlgorithmIdentifier. Throws PkiError KDF_LIMIT (PBMAC1 key too long),
 * UNSUPPORTED_ALGORITHM or MALFORMED.
 */
export function pfxMac(macAlg: Block | undefined, salt: Uint8Array, iterations: number): PfxMac {
  const alg = algorithm(macAlg, "MAC algorithm");
  if (alg.oid === OID_PBMAC1) {
    const p = children(alg.params, "PBMAC1 parameters", 2, 2);
    const kdf = algorithm(p[0], "PBMAC1 key derivation function");
    if (kdf.oid !== OID_PBKDF2) throw unsupported("a PBMAC1 key derivation function", kdf.oid);
    const mac = algorithm(p[1], "PBMAC1 message authentication scheme");
    const hmacHash = HMAC_PRFS[mac.oid];
    if (!hmacHash) throw unsupported("a PBMAC1 MAC", mac.oid);
    const k = parsePbkdf2(kdf.params);
    // RFC 9579: keyLength is required (the HMAC's output length); Bouncy Castle writes 256 octets.
    if (k.keyLength === undefined || k.keyLength < 20) throw malformed("PBMAC1 key length");
    checkPbmac1KeyLength(k.keyLength);
    const keyLength = k.keyLength;
    const cost = pbkdf2Cost("PBKDF2 of the PBMAC1 MAC", k.iterations, keyLength, k.prf);
    return {
      cost,
      compute: (password, data) =>
        createHmac(hmacHash, pbkdf2(utf8Password(password), k.salt, cost, keyLength, k.prf))
          .update(data)
          .digest(),
    };
  }
  const d = DIGESTS[alg.oid];
  if (!d) throw unsupported("a MAC digest", alg.oid);
  if (iterations < 1) throw malformed("MAC iteration count");
  return {
    cost: pkcs12KdfCost("PKCS#12 KDF of the MAC", iterations, d.name, [d.u]),
    compute(password, data) {
      const key = pkcs12Kdf(d.name, bmpPassword(password), salt, iterations, 3, d.u);
      return createHmac(d.name, key).update(data).digest();
    },
  };
}

/**
 * Computes the PFX integrity MAC for one password, charging its KDF to `budget` first; returns the expected MAC
 * bytes. Throws PkiError KDF_LIMIT, UNSUPPORTED_ALGORITHM or MALFORMED.
 */
export function computePfxMac(
  macAlg: Block | undefined,
  salt: Uint8Array,
  iterations: number,
  password: Password,
  data: Uint8Array,
  budget: KdfBudget = new KdfBudget(),
): Buffer {
  const m = pfxMac(macAlg, salt, iterations);
  budget.charge(m.cost);
  return m.compute(password, data);
}

/** The OID of an AlgorithmIdentifier block (for reporting). */
export function algorithmOid(b: Block | undefined): string {
  return oid(children(b, "algorithm", 1, 2)[0], "algorithm");
}

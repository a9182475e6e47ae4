import { PkiError } from "../errors.js";

/**
 * Bounds on the password-based key derivation a keystore may ask for, so a hostile file cannot stall the process.
 * They are checked from the parameters before any derivation runs:
 * - each KDF (PBKDF2 of PBES2 and PBMAC1, the PKCS#12 KDF of the legacy PBEs and the classic MAC) runs at most
 *   `maxIterations` iterations (OpenSSL writes 2048, cautious tools 600,000);
 * - all KDFs of one file together cost at most `maxWork` units. One unit is one iteration for one output block
 *   of PBKDF2 (one HMAC); an iteration of the PKCS#12 KDF costs `pkcs12KdfWeight` units (its loop runs in
 *   JavaScript, 6-7 times slower than node's PBKDF2-HMAC-SHA-256). 10 million units take 2-5 s on the project's
 *   machines (PBKDF2-HMAC-SHA-256 about 0.25 s per million, SHA-512 0.5 s, the PKCS#12 KDF 1.4-1.8 s);
 * - a PBMAC1 key is at most `maxPbmac1KeyLength` bytes (RFC 9579 asks for the HMAC's output length; Bouncy Castle
 *   writes 256).
 * A file over any bound gets PkiError KDF_LIMIT (CLI exit 13).
 */
export const KDF_LIMITS = {
  maxIterations: 2_000_000,
  maxWork: 10_000_000,
  pkcs12KdfWeight: 8,
  maxPbmac1KeyLength: 256,
} as const;

/** What one key derivation will cost, known from its parameters. */
export interface KdfCost {
  /** Names the KDF in errors ("PBKDF2 of the PBMAC1 MAC"). */
  what: string;
  iterations: number;
  /** Output blocks derived, each running every iteration. */
  blocks: number;
  /** Units per block-iteration: 1 for PBKDF2, KDF_LIMITS.pkcs12KdfWeight for the PKCS#12 KDF. */
  weight: number;
}

/** Output length in bytes of the hashes a keystore KDF may use. */
export const HASH_LENGTHS: Readonly<Record<string, number>> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** The cost of PBKDF2 deriving `keyLength` bytes with HMAC-`prf`. */
export function pbkdf2Cost(what: string, iterations: number, keyLength: number, prf: string): KdfCost {
  const hLen = HASH_LENGTHS[prf] ?? 20;
  return { what, iterations, blocks: Math.max(1, Math.ceil(keyLength / hLen)), weight: 1 };
}

/** The cost of the PKCS#12 KDF with `hash` deriving outputs of the given byte lengths (key, IV ...). */
export function pkcs12KdfCost(what: string, iterations: number, hash: string, lengths: number[]): KdfCost {
  const u = HASH_LENGTHS[hash] ?? 20;
  const blocks = lengths.reduce((n, len) => n + Math.max(1, Math.ceil(len / u)), 0);
  return { what, iterations, blocks, weight: KDF_LIMITS.pkcs12KdfWeight };
}

/** Units a KDF costs. */
export function kdfUnits(c: KdfCost): number {
  return c.iterations * c.blocks * c.weight;
}

function kdfLimit(message: string, details: Record<string, number | string>): PkiError {
  return new PkiError("KDF_LIMIT", message, {
    hint: `Export the keystore again with at most ${KDF_LIMITS.maxIterations.toLocaleString("en")} iterations (OpenSSL's default of 2048 is fine), e.g. \`openssl pkcs12 -export\`.`,
    details,
  });
}

/** Refuses a PBMAC1 key length over KDF_LIMITS.maxPbmac1KeyLength (PkiError KDF_LIMIT). */
export function checkPbmac1KeyLength(keyLength: number): void {
  if (keyLength > KDF_LIMITS.maxPbmac1KeyLength) {
    throw kdfLimit(
      `The keystore's PBMAC1 asks for a ${keyLength}-byte MAC key, more than sealpost allows (${KDF_LIMITS.maxPbmac1KeyLength}).`,
      { keyLength, limit: KDF_LIMITS.maxPbmac1KeyLength },
    );
  }
}

/**
 * The key-derivation work allowed for one keystore file. `charge` is called with each KDF's cost before the KDF
 * runs; it refuses (PkiError KDF_LIMIT, nothing recorded) a KDF over the iteration bound or one that would take
 * the file's total over `limit`.
 */
export class KdfBudget {
  #used = 0;

  /** `limit`: total units for the file; default KDF_LIMITS.maxWork. */
  constructor(readonly limit: number = KDF_LIMITS.maxWork) {}

  /** Units charged so far. */
  get used(): number {
    return this.#used;
  }

  charge(c: KdfCost): void {
    if (c.iterations > KDF_LIMITS.maxIterations) {
      throw kdfLimit(
        `The keystore asks for ${c.iterations} key-derivation iterations (${c.what}), more than sealpost allows (${KDF_LIMITS.maxIterations}).`,
        { kdf: c.what, iterations: c.iterations, limit: KDF_LIMITS.maxIterations },
      );
    }
    const units = kdfUnits(c);
    if (this.#used + units > this.limit) {
      throw kdfLimit(
        `The keystore's key derivations together need ${this.#used + units} units of work, more than sealpost allows (${this.limit}).`,
        { kdf: c.what, work: this.#used + units, limit: this.limit },
      );
    }
    this.#used += units;
  }
}

let performed = 0;

/** Records units of key derivation that ran (called by the KDFs themselves). */
export function recordKdfWork(c: KdfCost): void {
  performed += kdfUnits(c);
}

/**
 * Units of key derivation run in this process so far: a counter for tests and the fuzzer, which measure the
 * bound by work done rather than by the clock.
 */
export function kdfWorkPerformed(): number {
  return performed;
}

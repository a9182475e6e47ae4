/**
 * Branch-free helpers for code that handles secret bytes (decrypted RSA blocks). Each works on small integers
 * with arithmetic masks instead of `if`, so its control flow does not depend on the data. JavaScript gives no hard
 * guarantee (the JIT may still branch), but no data-dependent early exit or exception is introduced here.
 */

/** 1 when x === 0 else 0, for 0 <= x < 2^31. */
export function ctIsZero(x: number): number {
  return ((x | -x) >>> 31) ^ 1;
}

/** 1 when a === b else 0 (bytes or small integers). */
export function ctEq(a: number, b: number): number {
  return ctIsZero(a ^ b);
}

/** 1 when a < b else 0, for 0 <= a, b < 2^31. */
export function ctLt(a: number, b: number): number {
  return ((a - b) >>> 31) & 1;
}

/** a when bit is 1, b when bit is 0 (integers). */
export function ctSelect(bit: number, a: number, b: number): number {
  const mask = -bit; // 0 or -1 (all ones)
  return (a & mask) | (b & ~mask);
}

/** 1 when the byte arrays are equal, scanning all of both (lengths are public). */
export function ctBytesEqual(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return ctIsZero(diff);
}

/** out[i] = bit ? a[i] : b[i] for every i (a, b and out of equal length). */
export function ctSelectBytes(bit: number, a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  const mask = -bit & 0xff;
  for (let i = 0; i < out.length; i++) out[i] = (a[i]! & mask) | (b[i]! & ~mask & 0xff);
}

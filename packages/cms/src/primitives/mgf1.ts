import { createHash } from "node:crypto";
import type { HashName } from "./hashes.js";

/** MGF1 (RFC 8017 B.2.1): `length` bytes of mask from `seed` with the given hash. */
export function mgf1(hash: HashName, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  let filled = 0;
  for (let i = 0; filled < length; i++) {
    counter.writeUInt32BE(i, 0);
    const block = createHash(hash).update(seed).update(counter).digest();
    filled += block.copy(out, filled);
  }
  return out;
}

import type { KeyObject } from "node:crypto";
import { decodeBer } from "./ber.js";

/** The size details sealpost reads of a public key (a subset of node's AsymmetricKeyDetails). */
export interface KeySizes {
  modulusLength?: number;
  divisorLength?: number;
  namedCurve?: string;
}

/**
 * `key.asymmetricKeyDetails`, without ending the process: for a DSA key whose public value is not a positive
 * INTEGER, Node 20's GetDsaKeyDetail fails a native assertion and aborts (the key itself loads), so a hostile
 * certificate could stop the CLI or the relay. For DSA keys the sizes are therefore read from the exported
 * SubjectPublicKeyInfo (bit lengths of p and q); undefined when it cannot be read.
 */
export function keySizes(key: KeyObject): KeySizes | undefined {
  if (key.asymmetricKeyType !== "dsa") return key.asymmetricKeyDetails;
  try {
    const spki = decodeBer(key.export({ type: "spki", format: "der" }), { maxBytes: 64 * 1024, maxNodes: 64 });
    const [p, q] = spki.children[0]?.children[1]?.children ?? [];
    if (p?.tag !== 0x02 || q?.tag !== 0x02) return undefined;
    return { modulusLength: bitLength(p.content), divisorLength: bitLength(q.content) };
  } catch {
    return undefined;
  }
}

function bitLength(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
}

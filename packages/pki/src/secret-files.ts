import { decodeBer } from "./ber.js";
import { looksLikePem } from "./cert.js";

/**
 * Recognises files that hold private key material, so that a command meant to send a certificate somewhere can
 * refuse them before anything leaves the machine.
 */

const PEM_SECRET_RE = /-----BEGIN ((?:[A-Z0-9]+ )*(?:PRIVATE KEY|PKCS12|PFX)(?: [A-Z0-9]+)*)-----/;

/** Bounds of the DER sniffing: a keystore is small; real ones have a few hundred elements. */
const SNIFF_LIMITS = { maxBytes: 1024 * 1024, maxNodes: 100_000 };

/**
 * What kind of private key material `bytes` hold, or undefined when none was recognised:
 * - PEM text with any "... PRIVATE KEY ..." block (PKCS#8, encrypted PKCS#8, PKCS#1 RSA, SEC1 EC, DSA, OpenSSH,
 *   OpenPGP) or a PKCS12/PFX block: `PEM "<label>" block`;
 * - DER PKCS#12 (PFX: SEQUENCE { INTEGER 3, ContentInfo, ... }): `PKCS#12 keystore`;
 * - DER PKCS#8, PKCS#1 or SEC1 private keys (a SEQUENCE that starts with a version INTEGER) and encrypted PKCS#8
 *   (SEQUENCE { AlgorithmIdentifier, OCTET STRING }): `DER private key`.
 * A certificate (SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }) and a PKCS#7 bundle (SEQUENCE { OID, [0] }) are not
 * key material. Bytes that are neither PEM nor decodable DER return undefined (the caller's certificate parser
 * refuses them).
 */
export function privateKeyMaterialIn(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const pem = PEM_SECRET_RE.exec(text);
  if (pem) return `PEM "${pem[1]}" block`;
  if (looksLikePem(bytes)) return undefined;
  let top: ReturnType<typeof decodeBer>;
  try {
    top = decodeBer(bytes, SNIFF_LIMITS);
  } catch {
    return undefined;
  }
  if (top.tag !== 0x30) return undefined;
  const [first, second] = top.children;
  if (first?.tag === 0x02) {
    const version = first.content;
    if (version.length === 1 && version[0] === 3 && second?.tag === 0x30) return "PKCS#12 keystore";
    return "DER private key";
  }
  if (top.children.length === 2 && first?.tag === 0x30 && second?.tag === 0x04) return "DER private key";
  return undefined;
}

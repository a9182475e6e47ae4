import * as asn1js from "asn1js";
import { CmsError } from "../errors.js";

/**
 * Hash algorithms the RSA primitives accept, with their OIDs and output sizes. SHA-1 is listed because published
 * vectors and old files use it; whether a SHA-1 signature is acceptable is decided by the CMS layer, not here.
 */
export type HashName = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

export const HASH_OIDS: Record<HashName, string> = {
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
};

/** Digest sizes in bytes. */
export const HASH_LENGTHS: Record<HashName, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const BY_OID: Record<string, HashName> = Object.fromEntries(
  Object.entries(HASH_OIDS).map(([name, oid]) => [oid, name as HashName]),
);

/** Maps a hash OID to its name; UNSUPPORTED_ALGORITHM for anything else (MD5, SHA-3, SHA-512/256 ...). */
export function hashFromOid(oid: string): HashName {
  const h = BY_OID[oid];
  if (!h) {
    throw new CmsError("UNSUPPORTED_ALGORITHM", `The hash algorithm ${oid} is not supported.`, {
      details: { algorithm: oid },
    });
  }
  return h;
}

/** Accepts "sha256", "SHA-256", "SHA256" and returns the canonical HashName (UNSUPPORTED_ALGORITHM otherwise). */
export function normalizeHash(name: string): HashName {
  const n = name.toLowerCase().replace("-", "");
  if (n in HASH_OIDS) return n as HashName;
  throw new CmsError("UNSUPPORTED_ALGORITHM", `The hash algorithm ${name} is not supported.`, {
    details: { algorithm: name },
  });
}

/**
 * A hash AlgorithmIdentifier. Parameters are absent (RFC 5754 / RFC 4055 preferred form); readers must accept
 * both absent and NULL.
 */
export function hashAlgorithmIdentifier(hash: HashName): asn1js.Sequence {
  return new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: HASH_OIDS[hash] })] });
}

/**
 * Reads a hash AlgorithmIdentifier: SEQUENCE { OID, NULL or absent }. Other parameters are MALFORMED.
 */
export function parseHashAlgorithmIdentifier(block: asn1js.AsnType | undefined, what: string): HashName {
  if (!(block instanceof asn1js.Sequence)) throw malformedParams(what);
  const [oid, params, extra] = block.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier) || extra !== undefined) throw malformedParams(what);
  if (params !== undefined && !(params instanceof asn1js.Null)) throw malformedParams(what);
  return hashFromOid(oid.valueBlock.toString());
}

/** CmsError MALFORMED for damaged algorithm parameters. */
export function malformedParams(what: string): CmsError {
  return new CmsError("MALFORMED", `The ${what} parameters are damaged.`, {
    hint: "The file may be corrupted or was written by a faulty program.",
  });
}

/** Decodes DER parameters (or passes an asn1js block through); undefined stays undefined (absent parameters). */
export function toBlock(input: Uint8Array | asn1js.AsnType | undefined, what: string): asn1js.AsnType | undefined {
  if (input === undefined) return undefined;
  if (!(input instanceof Uint8Array)) return input;
  let r: ReturnType<typeof asn1js.fromBER>;
  try {
    // Parameters are small: 1,000 elements at most (asn1js throws plain Errors for some bad values, e.g. times).
    r = asn1js.fromBER(input, { maxNodes: 1000, maxDepth: 16 });
  } catch {
    throw malformedParams(what);
  }
  if (r.offset === -1 || r.offset !== input.length || r.result.error) throw malformedParams(what);
  return r.result;
}

/** The children of an [n] EXPLICIT tagged element, or undefined when `block` is not that tag. */
export function explicitChild(block: asn1js.AsnType, tag: number): asn1js.AsnType | undefined {
  if (block.idBlock.tagClass !== 3 || block.idBlock.tagNumber !== tag) return undefined;
  const v = (block.valueBlock as unknown as { value?: asn1js.AsnType[] }).value;
  return v && v.length === 1 ? v[0] : undefined;
}

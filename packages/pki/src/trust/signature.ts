import { type KeyObject, constants, createPublicKey, verify } from "node:crypto";
import { keySizes } from "../key-details.js";
import { DerError, type Node, decode, expectSeq, intOf, isContext, kids, oidOf } from "./der.js";
import type { AlgId } from "./x509.js";

/** Why a signature check failed, before the caller words it for the person reading it. */
export class SignatureProblem extends Error {
  constructor(
    readonly code: "BAD_CERT_SIGNATURE" | "WEAK_ALGORITHM" | "WEAK_KEY" | "UNSUPPORTED_ALGORITHM",
    message: string,
  ) {
    super(message);
  }
}

export interface AlgorithmPolicy {
  /** Accept SHA-1 based signatures (RSA, DSA, ECDSA). Default false: refused as WEAK_ALGORITHM. */
  allowSha1?: boolean;
  /** Smallest RSA (and DSA) key accepted, in bits. Default 2048; smaller keys are WEAK_KEY. */
  minRsaBits?: number;
}

interface SigScheme {
  kind: "rsa" | "pss" | "ecdsa" | "dsa" | "eddsa";
  hash: string | null;
  saltLength?: number;
}

const SIG_OIDS: Record<string, { kind: SigScheme["kind"]; hash: string | null }> = {
  "1.2.840.113549.1.1.4": { kind: "rsa", hash: "md5" },
  "1.2.840.113549.1.1.5": { kind: "rsa", hash: "sha1" },
  "1.2.840.113549.1.1.14": { kind: "rsa", hash: "sha224" },
  "1.2.840.113549.1.1.11": { kind: "rsa", hash: "sha256" },
  "1.2.840.113549.1.1.12": { kind: "rsa", hash: "sha384" },
  "1.2.840.113549.1.1.13": { kind: "rsa", hash: "sha512" },
  "1.2.840.10045.4.1": { kind: "ecdsa", hash: "sha1" },
  "1.2.840.10045.4.3.1": { kind: "ecdsa", hash: "sha224" },
  "1.2.840.10045.4.3.2": { kind: "ecdsa", hash: "sha256" },
  "1.2.840.10045.4.3.3": { kind: "ecdsa", hash: "sha384" },
  "1.2.840.10045.4.3.4": { kind: "ecdsa", hash: "sha512" },
  "1.2.840.10040.4.3": { kind: "dsa", hash: "sha1" },
  "2.16.840.1.101.3.4.3.1": { kind: "dsa", hash: "sha224" },
  "2.16.840.1.101.3.4.3.2": { kind: "dsa", hash: "sha256" },
  "1.3.101.112": { kind: "eddsa", hash: null },
  "1.3.101.113": { kind: "eddsa", hash: null },
};

const HASH_OIDS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

const OID_PSS = "1.2.840.113549.1.1.10";
const OID_MGF1 = "1.2.840.113549.1.1.8";
export const OID_DSA_KEY = "1.2.840.10040.4.1";

const NAMES: Record<string, string> = {
  rsa: "RSA PKCS#1 v1.5",
  pss: "RSA-PSS",
  ecdsa: "ECDSA",
  dsa: "DSA",
  eddsa: "EdDSA",
};

/** A readable name for a signature AlgorithmIdentifier ("RSA PKCS#1 v1.5 with SHA-256"). */
export function describeSigAlg(alg: AlgId): string {
  try {
    const s = scheme(alg);
    return s.hash ? `${NAMES[s.kind]} with ${s.hash.toUpperCase().replace("SHA", "SHA-")}` : (NAMES[s.kind] ?? alg.oid);
  } catch {
    return alg.oid;
  }
}

function hashAlg(n: Node | undefined): string {
  const parts = expectSeq(n, "hash AlgorithmIdentifier");
  const h = HASH_OIDS[oidOf(parts[0])];
  if (!h) throw new SignatureProblem("UNSUPPORTED_ALGORITHM", `unsupported hash ${oidOf(parts[0])}`);
  return h;
}

function pssParams(params: Uint8Array | undefined): SigScheme {
  if (!params) throw new SignatureProblem("UNSUPPORTED_ALGORITHM", "RSA-PSS without parameters");
  let hash = "sha1";
  let mgfHash = "sha1";
  let saltLength = 20;
  for (const f of expectSeq(decode(params), "RSASSA-PSS-params")) {
    const inner = kids(f)[0];
    if (isContext(f, 0)) hash = hashAlg(inner);
    else if (isContext(f, 1)) {
      const mgf = expectSeq(inner, "maskGenAlgorithm");
      if (oidOf(mgf[0]) !== OID_MGF1)
        throw new SignatureProblem("UNSUPPORTED_ALGORITHM", "RSA-PSS with a mask function other than MGF1");
      mgfHash = hashAlg(mgf[1]);
    } else if (isContext(f, 2)) saltLength = Number(intOf(inner, "saltLength"));
    else if (isContext(f, 3)) {
      if (intOf(inner, "trailerField") !== 1n)
        throw new SignatureProblem("UNSUPPORTED_ALGORITHM", "RSA-PSS trailer field other than 1");
    }
  }
  if (mgfHash !== hash) {
    throw new SignatureProblem(
      "UNSUPPORTED_ALGORITHM",
      `RSA-PSS with MGF1-${mgfHash} and hash ${hash} (they must match)`,
    );
  }
  return { kind: "pss", hash, saltLength };
}

function scheme(alg: AlgId): SigScheme {
  if (alg.oid === OID_PSS) return pssParams(alg.params);
  const s = SIG_OIDS[alg.oid];
  if (!s) throw new SignatureProblem("UNSUPPORTED_ALGORITHM", `unsupported signature algorithm ${alg.oid}`);
  return { ...s };
}

// Minimal DER writer for re-assembling a DSA key whose parameters are inherited from its issuer.
function tlv(tag: number, body: Uint8Array): Uint8Array {
  const len = body.length;
  let head: number[];
  if (len < 0x80) head = [tag, len];
  else if (len < 0x100) head = [tag, 0x81, len];
  else if (len < 0x10000) head = [tag, 0x82, len >> 8, len & 0xff];
  else head = [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  return Buffer.concat([Buffer.from(head), body]);
}

/**
 * Builds the verification key from a SubjectPublicKeyInfo. For a DSA key without parameters the caller passes the
 * parameters inherited from the issuing CA (RFC 5280 6.1.4 (f)).
 */
export function publicKeyFrom(spki: Uint8Array, inheritedParams?: Uint8Array): KeyObject {
  const parts = expectSeq(decode(spki), "SubjectPublicKeyInfo");
  const alg = expectSeq(parts[0], "algorithm");
  if (oidOf(alg[0]) === OID_DSA_KEY && alg.length === 1) {
    if (!inheritedParams)
      throw new SignatureProblem(
        "BAD_CERT_SIGNATURE",
        "DSA key without parameters and no issuer parameters to inherit",
      );
    const algSeq = tlv(0x30, Buffer.concat([content0(alg[0] as Node), inheritedParams]));
    const bits = (parts[1] as Node).raw;
    return createPublicKey({ key: Buffer.from(tlv(0x30, Buffer.concat([algSeq, bits]))), format: "der", type: "spki" });
  }
  return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

function content0(n: Node): Uint8Array {
  return new Uint8Array(n.raw);
}

const EC_CURVES = ["prime256v1", "secp384r1", "secp521r1"];

/** Checks key strength: RSA and DSA keys below `minRsaBits`, and EC keys off P-256/P-384/P-521, are WEAK_KEY. */
export function checkKeyStrength(key: KeyObject, policy: AlgorithmPolicy): void {
  const min = policy.minRsaBits ?? 2048;
  const d = keySizes(key);
  const t = key.asymmetricKeyType;
  if ((t === "rsa" || t === "rsa-pss" || t === "dsa") && d?.modulusLength !== undefined && d.modulusLength < min) {
    throw new SignatureProblem(
      "WEAK_KEY",
      `${t.toUpperCase()} key of ${d.modulusLength} bits (at least ${min} required)`,
    );
  }
  if (t === "ec" && d?.namedCurve && !EC_CURVES.includes(d.namedCurve)) {
    throw new SignatureProblem("WEAK_KEY", `EC key on curve ${d.namedCurve} (P-256, P-384 or P-521 required)`);
  }
}

/**
 * Verifies `signature` over `data` with `key` under AlgorithmIdentifier `alg`. Throws SignatureProblem:
 * WEAK_ALGORITHM for MD5 (always) and SHA-1 (unless allowed), UNSUPPORTED_ALGORITHM, BAD_CERT_SIGNATURE.
 */
export function verifySignature(
  data: Uint8Array,
  alg: AlgId,
  signature: Uint8Array,
  key: KeyObject,
  policy: AlgorithmPolicy,
): void {
  let s: SigScheme;
  try {
    s = scheme(alg);
  } catch (err) {
    if (err instanceof SignatureProblem) throw err;
    throw new SignatureProblem("UNSUPPORTED_ALGORITHM", `malformed algorithm parameters (${(err as Error).message})`);
  }
  if (s.hash === "md5") throw new SignatureProblem("WEAK_ALGORITHM", "signed with MD5, which is broken");
  if (s.hash === "sha1" && !policy.allowSha1)
    throw new SignatureProblem("WEAK_ALGORITHM", "signed with SHA-1, which is no longer accepted");
  const kt = key.asymmetricKeyType;
  const want =
    s.kind === "pss"
      ? ["rsa", "rsa-pss"]
      : s.kind === "rsa"
        ? ["rsa"]
        : s.kind === "ecdsa"
          ? ["ec"]
          : s.kind === "dsa"
            ? ["dsa"]
            : ["ed25519", "ed448"];
  if (!kt || !want.includes(kt))
    throw new SignatureProblem("BAD_CERT_SIGNATURE", `a ${NAMES[s.kind]} signature cannot come from a ${kt} key`);
  if ((s.kind === "rsa" || s.kind === "ecdsa" || s.kind === "dsa") && alg.params !== undefined) {
    // RSA requires NULL parameters (or none); ECDSA and DSA signature algorithms take none.
    const isNull = alg.params.length === 2 && alg.params[0] === 5 && alg.params[1] === 0;
    if (!(s.kind === "rsa" && isNull))
      throw new SignatureProblem("BAD_CERT_SIGNATURE", "unexpected signature algorithm parameters");
  }
  let ok: boolean;
  try {
    if (s.kind === "pss") {
      ok = verify(s.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength }, signature);
    } else if (s.kind === "rsa") {
      ok = verify(s.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    } else if (s.kind === "ecdsa" || s.kind === "dsa") {
      ok = verify(s.hash, data, { key, dsaEncoding: "der" }, signature);
    } else ok = verify(null, data, key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureProblem("BAD_CERT_SIGNATURE", "the signature does not verify");
}

export { DerError };

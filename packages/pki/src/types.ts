import type { KeyObject } from "node:crypto";
import type { PrivateKeyHandle } from "./keys/handle.js";

/**
 * Shared shapes of the pki package. Other modules (cert parsing, keystores, trust) implement them; packages/cms,
 * cli and server depend only on these shapes and on the functions exported from index.ts.
 */

/** What a certificate may be used for, as sealpost asks. */
export type KeyPurpose = "sign" | "encrypt";

/** A parsed X.509 certificate with the facts sealpost needs; `der` is the exact encoding. */
export interface CertInfo {
  der: Uint8Array;
  /** Subject as a readable string, RFC 4514 order reversed for display, e.g. "C=TW, O=..., CN=王小明". */
  subject: string;
  /** The subject's commonName (UTF8String or BMPString decoded), or "" when absent. */
  commonName: string;
  issuer: string;
  /** DER of the issuer Name and of the subject Name (for issuerAndSerialNumber and name chaining). */
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** Serial number as lower-case hex without leading zero bytes beyond what DER requires. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** keyUsage bits by name (digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign...), undefined when the extension is absent. */
  keyUsage: Set<string> | undefined;
  /** subjectKeyIdentifier as hex, when present. */
  subjectKeyIdHex: string | undefined;
  /** The subject public key. */
  publicKey: KeyObject;
  /** "rsa" | "ec" | ... and, for RSA, the modulus size in bits. */
  keyType: string;
  keyBits: number | undefined;
  /** Signature algorithm OID of the certificate itself (e.g. sha256WithRSAEncryption). */
  signatureAlgorithmOid: string;
  /** SHA-256 and SHA-1 fingerprints of `der`, lower-case hex. */
  sha256: string;
  sha1: string;
  isCA: boolean;
  selfIssued: boolean;
}

/**
 * One private key with its certificate (and the chain the keystore carried). Use the key through `key` (see
 * keyHandleOf): a key on a token has only `key`; a key in this process (PKCS#12, PEM) also has `privateKey`.
 * Entries built by hand may give `privateKey` alone; keyHandleOf wraps it.
 */
export interface KeyEntry {
  key?: PrivateKeyHandle;
  privateKey?: KeyObject;
  cert: CertInfo;
  chain: CertInfo[];
}

/** Everything one keystore (PKCS#12, PEM key + cert, or a PKCS#11 token) holds. */
export interface Keystore {
  source: string;
  entries: KeyEntry[];
  /** Releases what the keystore holds open (a token's session); absent for files. */
  close?: () => Promise<void>;
}

/** Options for validating one certificate for one purpose. */
export interface ValidateOptions {
  /** Intermediates that may be used to build the path (from the CMS file, the caller, the server registry). */
  intermediates?: CertInfo[];
  /** Time at which the path must be valid. Default: now. sealpost validates signers now too: a signingTime is the signer's own claim (only a trusted timestamp could vouch for it). */
  time?: Date;
  /** Required end-entity usage; omitted means any. */
  purpose?: KeyPurpose;
}

/** The outcome of a successful validation; failures throw PkiError. */
export interface TrustResult {
  /** End entity first, anchor last. */
  path: CertInfo[];
  /** Human-readable list of checks done ("signature", "validity", "keyUsage", "revocation:crl" ...). */
  checks: string[];
  /** Where revocation status came from, and its time, when it was checked. */
  revocation: { source: "crl" | "ocsp" | "none"; detail: string; thisUpdate?: Date } | undefined;
  warnings: string[];
}

/**
 * The caller's trust policy: cms calls it for the signer (purpose "sign", at signing time) and for recipients
 * (purpose "encrypt", now). Implementations throw PkiError with a specific code on failure.
 */
export interface TrustPolicy {
  validate(cert: CertInfo, options?: ValidateOptions): Promise<TrustResult>;
}

import type { CertInfo, KeyEntry, TrustPolicy, TrustResult } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import type { CipherName, DigestName, KeyTransportName, SignatureScheme } from "./algorithms.js";

/** A recipient as sealpost reports it. */
export interface RecipientSummary {
  commonName: string;
  subject: string;
  issuer: string;
  serialHex: string;
  subjectKeyIdHex?: string;
}

/** Options of seal/sealFile/createSealStream. */
export interface SealOptions {
  /** Encryption certificates of the recipients (at least one; keyEncipherment, within validity). */
  recipients: CertInfo[];
  /** The sender's signing key and certificate (its chain is included unless includeChain is false). */
  signer: KeyEntry;
  /** Default "aes-256-gcm" (AuthEnvelopedData); "aes-256-cbc" writes EnvelopedData. */
  cipher?: CipherName;
  /** Default "oaep" (RSAES-OAEP, SHA-256, MGF1-SHA-256, parameters explicit); "pkcs1" = RSAES-PKCS1-v1_5. */
  keyTransport?: KeyTransportName;
  /** Default "issuerAndSerialNumber" (KeyTransRecipientInfo version 0); SKI gives version 2. */
  recipientIdentifier?: "issuerAndSerialNumber" | "subjectKeyIdentifier";
  /** Default "pkcs1" (RSASSA-PKCS1-v1_5); "pss" uses RSASSA-PSS with MGF1 of the same hash, salt = hash length. */
  signatureScheme?: SignatureScheme;
  /** Default "sha256". */
  digest?: DigestName;
  /**
   * Transfer manifest carried as a signed attribute. Seal always writes one: these fields plus `recipients`, the
   * SHA-256 of every recipient certificate (replacing any given), so that a forwarded copy is recognised on open.
   */
  manifest?: TransferManifest;
  /** Default: now. */
  signingTime?: Date;
  /** Default true: signer cert + keystore chain; false: the signer cert only. */
  includeChain?: boolean;
  /** Called with the number of content bytes consumed so far. */
  onProgress?: (contentBytes: number) => void;
}

export interface SealResult {
  outputBytes: number;
  outputSha256: string;
  contentBytes: number;
  contentSha256: string;
  recipients: RecipientSummary[];
  cipher: string;
  keyTransport: string;
  signatureAlgorithm: string;
  signingTime: Date;
}

export interface OpenOptions {
  /** The caller's decryption keys; the first whose certificate matches a recipient is used. */
  keys: KeyEntry[];
  /** Validates the signer (purpose "sign", now: the signingTime is shown, never trusted). */
  trust: TrustPolicy;
  /** Extra certificates for path building (besides those in the file). */
  intermediates?: CertInfo[];
  /**
   * Default false: content without a SignedData is refused with UNSIGNED_CONTENT. True accepts it from an
   * AuthEnvelopedData (GCM) only; in a CBC envelope unsigned content is always the one integrity error (TAMPERED).
   */
  allowUnsigned?: boolean;
  /** Called with the number of content bytes written so far. */
  onProgress?: (bytes: number) => void;
  /**
   * The opener's agencies (codes or names), for the forwarded-file check on the manifest's receivingAgency when it
   * carries no recipient hashes. Default: the O and OU values of the decrypting certificate's subject.
   */
  openerAgencies?: string[];
  /**
   * Default false: a file whose signed manifest does not name the opener (see addressee.ts) is refused with
   * FORWARDED before anything is released. True opens it with a warning.
   */
  allowForwarded?: boolean;
}

/** The signer as reported after verification. */
export interface SignerSummary {
  cert: CertInfo;
  commonName: string;
  subject: string;
}

export interface OpenResult {
  signed: boolean;
  signer?: SignerSummary;
  signingTime?: Date;
  manifest?: TransferManifest;
  cipher: string;
  keyTransport: string;
  signatureAlgorithm?: string;
  digest?: string;
  contentBytes: number;
  contentSha256: string;
  recipient: RecipientSummary;
  /** Every check done, in order (e.g. "recipient", "gcm-tag", "signature", "message-digest", "trust", "addressee"). */
  checks: string[];
  warnings: string[];
  trust?: TrustResult;
  nesting: "id-data" | "id-signedData";
}

export interface SignOptions {
  signer: KeyEntry;
  /** Default false: the content is encapsulated; true: eContent is omitted (detached signature). */
  detached?: boolean;
  signatureScheme?: SignatureScheme;
  digest?: DigestName;
  manifest?: TransferManifest;
  signingTime?: Date;
  includeChain?: boolean;
  force?: boolean;
  onProgress?: (contentBytes: number) => void;
}

export interface SignResult {
  outputBytes: number;
  outputSha256: string;
  contentBytes: number;
  contentSha256: string;
  detached: boolean;
  signatureAlgorithm: string;
  signingTime: Date;
}

export interface VerifyOptions {
  trust: TrustPolicy;
  /** Path of the detached content (required when the signature is detached). */
  content?: string;
  /** Where to write the encapsulated content (attached signatures); verified before the rename. */
  outPath?: string;
  force?: boolean;
  intermediates?: CertInfo[];
  onProgress?: (bytes: number) => void;
}

/** Like OpenResult without recipient, cipher and key transport. */
export interface VerifyResult {
  signed: true;
  detached: boolean;
  signer: SignerSummary;
  signingTime?: Date;
  manifest?: TransferManifest;
  signatureAlgorithm: string;
  digest: string;
  contentBytes: number;
  contentSha256: string;
  contentType: string;
  checks: string[];
  warnings: string[];
  trust: TrustResult;
}

export interface RecipientInfoSummary {
  type: "ktri" | "kari" | "kekri" | "pwri" | "ori";
  version?: number;
  keyTransport?: string;
  issuer?: string;
  issuerDer?: Uint8Array;
  serialHex?: string;
  subjectKeyIdHex?: string;
}

export interface InspectResult {
  contentType: string;
  encoding: "ber-indefinite" | "der";
  /** Set when the input was text-armored: PEM or an S/MIME application/pkcs7-mime message (base64 body). */
  armor?: "pem" | "smime";
  recipients: RecipientInfoSummary[];
  cipher?: string;
  encryptedContentBytes?: number;
  /** Only for signedData (an envelope's signer is inside the ciphertext). */
  signer?: {
    issuer?: string;
    serialHex?: string;
    subjectKeyIdHex?: string;
    digest?: string;
    signatureAlgorithm?: string;
    signingTime?: Date;
    commonName?: string;
    subject?: string;
  };
  /** For signedData: the signers (signer is the first); empty otherwise. */
  signers?: NonNullable<InspectResult["signer"]>[];
  eContentType?: string;
  contentBytes?: number;
  detached?: boolean;
  certificates: CertInfo[];
  totalBytes: number;
}

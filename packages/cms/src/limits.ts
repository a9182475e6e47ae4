import type { BerLimits } from "@sealpost/pki";

/**
 * What each structure of a CMS file may hold at most. Every bound is far above what a legitimate file carries
 * (sealpost writes one RecipientInfo per recipient, one SignerInfo, the signer's chain of 2-5 certificates) and
 * keeps hostile input to time linear in its size and memory bounded whatever it claims: the readers count and
 * measure each structure as it streams past and refuse more with MALFORMED before they build anything large.
 * `packages/cms/README.md` lists them.
 */
export const LIMITS = {
  /** RecipientInfos: recipients of one envelope (each RecipientInfo, and each key of a KeyAgreeRecipientInfo). */
  recipients: 1000,
  /** RecipientInfos: bytes of all of them together. */
  recipientInfosBytes: 4 * 1024 * 1024,
  /** One RecipientInfo: bytes and elements. */
  recipientInfo: { maxBytes: 256 * 1024, maxNodes: 20_000, maxDepth: 32 } satisfies BerLimits,
  /** OriginatorInfo of an envelope (certificates and CRLs of the originator; not used). */
  originatorInfo: { maxBytes: 1024 * 1024, maxNodes: 20_000, maxDepth: 32 } satisfies BerLimits,
  /** Small fields read whole: versions, OIDs, algorithm identifiers, the GCM tag. */
  field: { maxBytes: 64 * 1024, maxNodes: 1000, maxDepth: 16 } satisfies BerLimits,
  /** Authenticated and unauthenticated (unprotected) attributes of an envelope. */
  envelopeAttributes: { maxBytes: 256 * 1024, maxNodes: 20_000, maxDepth: 32 } satisfies BerLimits,
  /** SignedData digestAlgorithms: algorithms listed. */
  digestAlgorithms: 16,
  /** SignedData certificates: how many, and the largest one (bytes and elements, as @sealpost/pki parses them). */
  certificates: 64,
  certificate: { maxBytes: 64 * 1024, maxNodes: 8192, maxDepth: 32 } satisfies BerLimits,
  /** SignedData CRLs (skipped: revocation data comes from the trust policy): how many, and bytes of each. */
  crls: 64,
  crlBytes: 16 * 1024 * 1024,
  /** SignedData signerInfos: how many, and each one (bytes and elements, attributes included). */
  signerInfos: 16,
  signerInfo: { maxBytes: 1024 * 1024, maxNodes: 20_000, maxDepth: 32 } satisfies BerLimits,
  /** Attributes of one SignerInfo set (signed or unsigned), and values of one attribute. */
  attributes: 64,
  attributeValues: 16,
  /** Bytes of a SignedData after its content: certificates, CRLs and signerInfos together. */
  signedDataTailBytes: 16 * 1024 * 1024,
  /** Node budget of one reader: structure headers read and elements decoded, for the whole file. */
  nodes: 200_000,
} as const;

import Type, { type Static } from "typebox";
import { AuditEntry } from "./ops.js";
import { DateTime, ref } from "./schema.js";

/**
 * The audit log as a transparency log (RFC 9162 Merkle tree, signed tree heads): what clients fetch to check that
 * the log only ever grew. Hashes are lower-case hex. The header form of a head is described in
 * `@sealpost/protocol/transparency` (tree-head.ts) and server/README.md.
 */

const Hash = Type.String({ pattern: "^[0-9a-f]{64}$", description: "SHA-256, lower-case hex" });
/** Largest tree size or sequence number a query accepts. */
export const MAX_TREE_SIZE = 2 ** 48;
const Size = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_TREE_SIZE, description });

/** A signed tree head (the same fields as the Sealpost-Tree-Head header). */
export const TreeHead = Type.Object(
  {
    treeSize: Type.Integer({ minimum: 0, description: "entries in the log" }),
    rootHash: Hash,
    timestamp: DateTime,
    signature: Type.String({ description: "Ed25519 signature (base64) over the head's signed bytes" }),
  },
  { $id: "TreeHead" },
);
export type TreeHeadDto = Static<typeof TreeHead>;

/** GET /v1/audit/key */
export const AuditKeyInfo = Type.Object(
  {
    algorithm: Type.Literal("Ed25519"),
    publicKeyPem: Type.String({ description: "SubjectPublicKeyInfo, PEM" }),
    fingerprint: Type.String({ description: "SHA-256 (hex) of the DER SubjectPublicKeyInfo: what clients pin" }),
  },
  { $id: "AuditKey" },
);
export type AuditKeyInfo = Static<typeof AuditKeyInfo>;

/** GET /v1/audit/consistency */
export const ConsistencyQuery = Type.Object({
  from: Size("size of the older tree (the head the client kept)"),
  to: Size("size of the newer tree (at most the latest signed head's)"),
});
export type ConsistencyQuery = Static<typeof ConsistencyQuery>;

export const ConsistencyProof = Type.Object(
  {
    from: Type.Integer(),
    to: Type.Integer(),
    proof: Type.Array(Hash, { description: "PROOF(from, D[to]) of RFC 9162 2.1.4.1; empty when from is 0 or to" }),
  },
  { $id: "ConsistencyProof" },
);
export type ConsistencyProofDto = Static<typeof ConsistencyProof>;

/** GET /v1/audit/inclusion */
export const InclusionQuery = Type.Object({
  seq: Type.Integer({ minimum: 1, maximum: MAX_TREE_SIZE, description: "the entry's sequence number (leaf seq - 1)" }),
  size: Size("tree size to prove against (at most the latest signed head's)"),
});
export type InclusionQuery = Static<typeof InclusionQuery>;

export const InclusionProof = Type.Object(
  {
    seq: Type.Integer(),
    leafIndex: Type.Integer({ description: "seq - 1" }),
    treeSize: Type.Integer(),
    leafHash: Hash,
    proof: Type.Array(Hash, { description: "PATH(leafIndex, D[treeSize]) of RFC 9162 2.1.3.1" }),
  },
  { $id: "InclusionProof" },
);
export type InclusionProofDto = Static<typeof InclusionProof>;

/** GET /v1/audit/cases/:id */
export const CaseAuditQuery = Type.Object({
  size: Type.Optional(Size("tree size to prove against; default the latest signed head's")),
});
export type CaseAuditQuery = Static<typeof CaseAuditQuery>;

export const CaseAudit = Type.Object(
  {
    caseId: Type.String(),
    treeHead: ref(TreeHead),
    entries: Type.Array(
      Type.Object({
        entry: ref(AuditEntry),
        proof: Type.Array(Hash, { description: "inclusion proof of the entry in treeHead" }),
      }),
      { description: "the case's entries within treeHead, oldest first (at most 1000)" },
    ),
  },
  { $id: "CaseAudit" },
);
export type CaseAuditDto = Static<typeof CaseAudit>;

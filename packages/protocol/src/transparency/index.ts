/**
 * The audit log as a transparency log: RFC 9162 Merkle tree hashing and proofs, signed tree heads, and the bytes
 * of an audit entry that the tree holds. Uses node:crypto: import it as `@sealpost/protocol/transparency` (not from
 * the package root, which browsers load).
 */
export * from "./audit-export.js";
export * from "./audit-leaf.js";
export * from "./merkle.js";
export * from "./tree-head.js";

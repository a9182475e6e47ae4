import { createHash, type KeyObject, sign, verify } from "node:crypto";
import { SealpostError } from "../errors.js";

/**
 * A signed tree head of the relay's audit log: the log's size, its RFC 9162 root hash and the time the relay signed
 * them, signed with the relay's audit key (Ed25519).
 *
 * The signature is over these bytes (treeHeadMessage):
 *   "sealpost-tree-head:v1" (21 ASCII bytes) || 0x00 || timestamp (uint64, milliseconds since 1970, big-endian)
 *   || tree size (uint64, big-endian) || root hash (32 bytes)
 *
 * On the wire (the Sealpost-Tree-Head response header, encodeTreeHead) a head is five fields joined by ".":
 *   1.<tree size, decimal>.<timestamp ms, decimal>.<root hash, 64 hex digits>.<signature, base64url without padding>
 */
export interface SignedTreeHead {
  /** Number of entries in the log. */
  treeSize: number;
  /** MTH of the log, lower-case hex (64 digits); SHA-256("") for the empty log. */
  rootHash: string;
  /** When the relay signed the head, ISO 8601 with milliseconds (UTC). */
  timestamp: string;
  /** Ed25519 signature over treeHeadMessage, base64. */
  signature: string;
}

/** The response header that carries the latest signed tree head (lower case, as fetch's Headers give it). */
export const TREE_HEAD_HEADER = "sealpost-tree-head";

const CONTEXT = Buffer.from("sealpost-tree-head:v1\0", "ascii");
const HEX64 = /^[0-9a-f]{64}$/;
/** Longest header value accepted (a real one is about 180 characters). */
const MAX_ENCODED = 512;

/** The bytes a tree head's signature covers (see SignedTreeHead). */
export function treeHeadMessage(h: Pick<SignedTreeHead, "treeSize" | "rootHash" | "timestamp">): Buffer {
  const ms = Date.parse(h.timestamp);
  if (!Number.isSafeInteger(h.treeSize) || h.treeSize < 0 || !HEX64.test(h.rootHash) || !Number.isFinite(ms)) {
    throw new SealpostError("MALFORMED", "A tree head needs a size, a SHA-256 root hash and a time.");
  }
  const nums = Buffer.alloc(16);
  nums.writeBigUInt64BE(BigInt(ms), 0);
  nums.writeBigUInt64BE(BigInt(h.treeSize), 8);
  return Buffer.concat([CONTEXT, nums, Buffer.from(h.rootHash, "hex")]);
}

/** Signs size, root and time with the audit key (an Ed25519 private key). `time` default: now. */
export function signTreeHead(
  treeSize: number,
  rootHash: Uint8Array,
  privateKey: KeyObject,
  time: Date = new Date(),
): SignedTreeHead {
  const body = { treeSize, rootHash: Buffer.from(rootHash).toString("hex"), timestamp: time.toISOString() };
  return { ...body, signature: sign(null, treeHeadMessage(body), privateKey).toString("base64") };
}

/** True when the head's signature verifies with `publicKey` (false for a malformed head). */
export function verifyTreeHead(h: SignedTreeHead, publicKey: KeyObject): boolean {
  try {
    return verify(null, treeHeadMessage(h), publicKey, Buffer.from(h.signature, "base64"));
  } catch {
    return false;
  }
}

/** The head in the header form (see SignedTreeHead). */
export function encodeTreeHead(h: SignedTreeHead): string {
  const sig = Buffer.from(h.signature, "base64").toString("base64url");
  return `1.${h.treeSize}.${Date.parse(h.timestamp)}.${h.rootHash}.${sig}`;
}

/** Parses the header form; MALFORMED (a SealpostError) for anything else, the signature not checked. */
export function decodeTreeHead(value: string): SignedTreeHead {
  const bad = () =>
    new SealpostError("MALFORMED", "The server's tree head is not in the sealpost format.", {
      details: { treeHead: value.slice(0, 80) },
    });
  if (value.length > MAX_ENCODED) throw bad();
  const m = /^1\.(\d{1,15})\.(\d{1,15})\.([0-9a-f]{64})\.([A-Za-z0-9_-]{1,200})$/.exec(value.trim());
  if (!m) throw bad();
  const treeSize = Number(m[1]);
  const ms = Number(m[2]);
  if (!Number.isSafeInteger(treeSize) || !Number.isSafeInteger(ms) || ms > 8.64e15) throw bad();
  return {
    treeSize,
    timestamp: new Date(ms).toISOString(),
    rootHash: m[3]!,
    signature: Buffer.from(m[4]!, "base64url").toString("base64"),
  };
}

/** The audit key's fingerprint: SHA-256 (lower-case hex) of its DER SubjectPublicKeyInfo. */
export function auditKeyFingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/**
 * A fingerprint as people write it ("SHA256:AB:CD...", "abcd...", with or without colons or spaces) in the canonical
 * form (64 lower-case hex digits), or undefined when it is not one.
 */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text
    .trim()
    .replace(/^sha-?256:/i, "")
    .replace(/[:\s]/g, "")
    .toLowerCase();
  return HEX64.test(hex) ? hex : undefined;
}

/** A head for messages: "size 42, root 3f9a...c210, signed 2026-12-06T03:00:00.000Z". */
export function describeTreeHead(h: Pick<SignedTreeHead, "treeSize" | "rootHash" | "timestamp">): string {
  return `size ${h.treeSize}, root ${h.rootHash}, signed ${h.timestamp}`;
}

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Host key pinning. A drop stores the server's host key fingerprint exactly as OpenSSH prints it
 * (`ssh-keygen -lf key.pub`, or `ssh-keyscan host | ssh-keygen -lf -`): "SHA256:" followed by the unpadded base64 of
 * the SHA-256 of the public key blob.
 */

const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/** True when `s` is an OpenSSH SHA-256 fingerprint ("SHA256:" + 43 base64 characters, "=" padding optional). */
export function isHostKeyFingerprint(s: string): boolean {
  return FINGERPRINT.test(s);
}

/** The 32 digest bytes of a fingerprint, or undefined when `s` is not one. */
export function fingerprintDigest(s: string): Buffer | undefined {
  const m = FINGERPRINT.exec(s);
  if (!m) return undefined;
  const digest = Buffer.from(m[1]!, "base64");
  return digest.length === 32 ? digest : undefined;
}

/** The OpenSSH fingerprint of a public key blob (the SSH wire encoding the server sends). */
export function hostKeyFingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Whether the server's key blob has the pinned fingerprint, compared in constant time over the 32 digest bytes.
 * A malformed pin never matches.
 */
export function hostKeyMatches(keyBlob: Uint8Array, pinned: string): boolean {
  const want = fingerprintDigest(pinned);
  if (!want) return false;
  const got = createHash("sha256").update(keyBlob).digest();
  return timingSafeEqual(got, want);
}

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { auditKeyFingerprint } from "@sealpost/protocol/transparency";
import { ServerError } from "../errors.js";

/**
 * The relay's audit key: the Ed25519 key that signs the audit log's tree heads. Its private key lives in the data
 * folder as `audit-key.pem` (PKCS#8 PEM, mode 0600; never logged, never served); its public key is served at
 * GET /v1/audit/key and its fingerprint (SHA-256 of the DER SubjectPublicKeyInfo) is what agencies pin.
 */
export interface AuditKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 (lower-case hex) of the public key's DER SubjectPublicKeyInfo. */
  fingerprint: string;
}

/** The private key file inside a data folder. */
export function auditKeyPath(dataDir: string): string {
  return join(dataDir, "audit-key.pem");
}

/**
 * Creates the audit key in `dataDir` (a new file, mode 0600, written and synced before it is used); CONFLICT when
 * the folder has one already (a new key would orphan every head clients pinned).
 */
export function createAuditKey(dataDir: string): AuditKey {
  const path = auditKeyPath(dataDir);
  if (existsSync(path)) {
    throw new ServerError("CONFLICT", `${path} already exists: this relay has an audit key.`, {
      hint: "Show it with: sealpost-server audit key show --data DIR",
    });
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return keyOf(privateKey);
}

/** The data folder's audit key, or undefined when it has none (a folder created before audit keys). */
export function loadAuditKey(dataDir: string): AuditKey | undefined {
  let pem: string;
  try {
    pem = readFileSync(auditKeyPath(dataDir), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new ServerError("INTERNAL", `${auditKeyPath(dataDir)} is not a private key.`, { cause: e });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ServerError("INTERNAL", `${auditKeyPath(dataDir)} is not an Ed25519 key.`);
  }
  return keyOf(key);
}

function keyOf(privateKey: KeyObject): AuditKey {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, fingerprint: auditKeyFingerprint(publicKey) };
}

/** The public key as PEM (SubjectPublicKeyInfo), what `init` and `audit key show` print and GET /v1/audit/key serves. */
export function auditPublicKeyPem(key: Pick<AuditKey, "publicKey">): string {
  return key.publicKey.export({ type: "spki", format: "pem" }).toString();
}

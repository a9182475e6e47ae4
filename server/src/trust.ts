import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CertInfo, parseCertificates, type TrustPolicy } from "@sealpost/pki";
import { dataPath, type ServerConfig } from "./config.js";
import { createTrustPolicy } from "./crypto.js";

/**
 * The server's trust policy, built from config.trust: anchors (PEM bundle), optional intermediates, CRL files and a
 * CRL folder, revocation mode (default "require"). Registered certificates are validated with it on registration and
 * again whenever they are used (login, profiles, receipts).
 */
export async function loadTrust(
  dataDir: string,
  config: ServerConfig,
): Promise<{ policy: TrustPolicy; intermediates: CertInfo[] }> {
  const t = config.trust;
  const anchors = parseCertificates(await readFile(dataPath(dataDir, t.anchors), "utf8"));
  const intermediates = t.intermediates
    ? parseCertificates(await readFile(dataPath(dataDir, t.intermediates), "utf8"))
    : [];
  const crls: Uint8Array[] = [];
  for (const f of t.crls ?? []) crls.push(toDer(await readFile(dataPath(dataDir, f))));
  if (t.crlDir) {
    const dir = dataPath(dataDir, t.crlDir);
    for (const f of (await readdir(dir)).sort()) crls.push(toDer(await readFile(join(dir, f))));
  }
  const policy = createTrustPolicy({ anchors, intermediates, crls, revocation: t.revocation });
  return { policy, intermediates };
}

/** A CRL file's DER (PEM "X509 CRL" blocks are decoded; the first block wins). */
function toDer(bytes: Buffer): Uint8Array {
  const text = bytes.subarray(0, 64).toString("latin1");
  if (!text.includes("-----BEGIN")) return new Uint8Array(bytes);
  const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(bytes.toString("latin1"));
  if (!m) return new Uint8Array(bytes);
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

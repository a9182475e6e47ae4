import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { CertInfo, KeyEntry, TrustPolicy, TrustResult, ValidateOptions } from "@sealpost/pki";
import { PkiError, parseCertificate } from "@sealpost/pki";
import {
  EnvelopeWriter,
  type EnvelopeWriterOptions,
  SignedDataWriter,
  type SignedDataWriterOptions,
} from "../src/index.js";
import { BerReader, ByteSource } from "../src/ber/reader.js";

/** Test helpers: the fixture PKI (fictional people), a minimal trust policy, temp dirs, streams. */

export const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
export const pkiDir = join(repoRoot, "fixtures/pki");
export const vectorsDir = resolve(repoRoot, "../shared/vectors");

interface Manifest {
  root: { cert: string };
  intermediate: { cert: string };
  people: Record<string, { sign: { cert: string; key: string }; encrypt: { cert: string; key: string }; name: string }>;
  troubled: Record<string, { cert: string; key: string }>;
}
export const manifest: Manifest = JSON.parse(readFileSync(join(pkiDir, "manifest.json"), "utf8"));

export const root: CertInfo = parseCertificate(readFileSync(join(pkiDir, manifest.root.cert), "utf8"));
export const intermediate: CertInfo = parseCertificate(readFileSync(join(pkiDir, manifest.intermediate.cert), "utf8"));
export const rootPem = join(pkiDir, manifest.root.cert);
export const intermediatePem = join(pkiDir, manifest.intermediate.cert);

export function entry(certPath: string, keyPath: string): KeyEntry {
  return {
    cert: parseCertificate(readFileSync(join(pkiDir, certPath), "utf8")),
    privateKey: createPrivateKey(readFileSync(join(pkiDir, keyPath))),
    chain: [intermediate, root],
  };
}

/** The signing and encryption key entries of a fixture person (e.g. "soc-chen", "tax-wang"). */
export function person(id: string): { sign: KeyEntry; encrypt: KeyEntry; files: Manifest["people"][string] } {
  const p = manifest.people[id];
  if (!p) throw new Error(`no fixture person ${id}`);
  return { sign: entry(p.sign.cert, p.sign.key), encrypt: entry(p.encrypt.cert, p.encrypt.key), files: p };
}

export function troubled(kind: string): KeyEntry {
  const t = manifest.troubled[kind]!;
  return entry(t.cert, t.key);
}

/**
 * A minimal TrustPolicy for cms tests (not the product's): the path must reach `anchor` through the given
 * intermediates, each signature checking with node:crypto, each cert valid at `time`, CA certs marked CA, and the
 * end entity's keyUsage fit for the purpose.
 */
export function testTrust(anchors: CertInfo[] = [root]): TrustPolicy & { calls: ValidateOptions[] } {
  const calls: ValidateOptions[] = [];
  return {
    calls,
    async validate(cert: CertInfo, options: ValidateOptions = {}): Promise<TrustResult> {
      calls.push(options);
      const time = options.time ?? new Date();
      const pool = [...(options.intermediates ?? []), ...anchors];
      if (options.purpose) checkPurpose(cert, options.purpose);
      const path: CertInfo[] = [cert];
      let cur = cert;
      for (let depth = 0; depth < 8; depth++) {
        const x = new X509Certificate(cur.der);
        if (time < cur.notBefore || time > cur.notAfter) {
          throw new PkiError("EXPIRED", `certificate ${cur.subject} is not valid at ${time.toISOString()}`);
        }
        const anchor = anchors.find((a) => Buffer.from(a.der).equals(Buffer.from(cur.der)));
        if (anchor) return { path, checks: ["signature", "validity", "keyUsage"], revocation: undefined, warnings: [] };
        const issuer = pool.find((c) => {
          const ix = new X509Certificate(c.der);
          return c.isCA && x.checkIssued(ix) && x.verify(ix.publicKey);
        });
        if (!issuer) throw new PkiError("UNTRUSTED", `no trusted issuer found for ${cur.subject}`);
        path.push(issuer);
        cur = issuer;
      }
      throw new PkiError("UNTRUSTED", "path too long");
    },
  };
}

/** Fix up keyUsage check for purpose (done separately so the policy stays tiny). */
export function checkPurpose(cert: CertInfo, purpose: "sign" | "encrypt"): void {
  const ku = cert.keyUsage;
  if (!ku) return;
  if (purpose === "sign" && !ku.has("digitalSignature") && !ku.has("nonRepudiation")) {
    throw new PkiError("KEY_USAGE", "not a signing certificate");
  }
  if (purpose === "encrypt" && !ku.has(cert.keyType === "ec" ? "keyAgreement" : "keyEncipherment"))
    throw new PkiError("KEY_USAGE", "not an encryption certificate");
}

export function tempDir(prefix = "sealpost-cms-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (no crypto cost) for test content. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A Readable that delivers `data` in writes of `writeSize` bytes. */
export function chunked(data: Buffer, writeSize: number): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= data.length) {
        this.push(null);
        return;
      }
      const end = Math.min(data.length, off + writeSize);
      this.push(data.subarray(off, end));
      off = end;
    },
  });
}

/** Collect a stream into one Buffer (tests only: small data). */
export async function collect(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** What SignedDataWriter writes for `content` (an attacker's own tool would write it too: no seal-side checks). */
export async function signedData(content: Buffer, options: SignedDataWriterOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w = new SignedDataWriter(options, (b) => parts.push(b));
  w.start();
  w.update(content);
  await w.finish();
  return Buffer.concat(parts);
}

/** An envelope (EnvelopeWriter) around `inner`, encrypted properly (the tag passes). */
export function envelope(inner: Buffer, options: EnvelopeWriterOptions): Buffer {
  const parts: Buffer[] = [];
  const w = new EnvelopeWriter(options, (b) => parts.push(b));
  w.start();
  w.update(inner);
  w.finish();
  return Buffer.concat(parts);
}

/** Re-encodes the encrypted content of a sealed file as segments of the given sizes (cycled), nested when asked. */
export async function resegment(sealed: Buffer, sizes: number[], nest = false): Promise<Buffer> {
  const r = new BerReader(ByteSource.from([sealed]));
  await r.readHeader();
  await r.readElement();
  await r.readHeader();
  await r.readHeader();
  await r.readElement(); // version
  await r.readElement(); // recipients
  await r.readHeader(); // EncryptedContentInfo
  await r.readElement();
  await r.readElement();
  const ec = await r.readHeader();
  const parts: Buffer[] = [];
  for await (const c of r.stringChunks(ec)) parts.push(Buffer.from(c));
  const ct = Buffer.concat(parts);
  // Written into one buffer (a 16 MiB ciphertext makes 8 million 2-byte segments).
  const segs = Buffer.allocUnsafe(ct.length + Math.ceil(ct.length / Math.min(...sizes)) * 16);
  let at = 0;
  const header = (tag: number, len: number) => {
    segs[at++] = tag;
    if (len < 0x80) segs[at++] = len;
    else {
      const bytes: number[] = [];
      for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
      segs[at++] = 0x80 | bytes.length;
      for (const x of bytes) segs[at++] = x;
    }
  };
  const headerBytes = (len: number) => (len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5);
  let i = 0;
  for (let off = 0; off < ct.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, ct.length - off);
    // Every 7th segment wrapped in a definite constructed one, every 11th in an indefinite one.
    const definite = nest && i % 7 === 0;
    const indefinite = nest && !definite && i % 11 === 0;
    if (definite) header(0x24, headerBytes(n) + n);
    if (indefinite) {
      segs[at++] = 0x24;
      segs[at++] = 0x80;
    }
    header(0x04, n);
    at += ct.copy(segs, at, off, off + n);
    if (indefinite) {
      segs[at++] = 0;
      segs[at++] = 0;
    }
    off += n;
  }
  return Buffer.concat([
    sealed.subarray(0, ec.start),
    Buffer.from([0xa0, 0x80]),
    segs.subarray(0, at),
    Buffer.from([0, 0]),
    sealed.subarray(r.position),
  ]);
}

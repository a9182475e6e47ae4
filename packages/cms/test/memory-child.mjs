// Child process for memory.test.ts: seals and opens a generated stream of SIZE bytes with the BUILT package and
// prints peak RSS. Run: node memory-child.mjs <workdir> <sizeBytes>. Input is generated on the fly (no file).
import { X509Certificate, createHash, createPrivateKey, randomBytes } from "node:crypto";
import { createWriteStream, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { openFile, seal } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";

const [dir, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const pki = fileURLToPath(new URL("../../../fixtures/pki/", import.meta.url));
const cert = (p) => parseCertificate(readFileSync(join(pki, p), "utf8"));
const gca = cert("intermediate/gca.cert.pem");
const entry = (who, kind) => ({
  cert: cert(`people/${who}/${kind}.cert.pem`),
  privateKey: createPrivateKey(readFileSync(join(pki, `people/${who}/${kind}.key.pem`))),
  chain: [gca],
});
const signer = entry("soc-chen", "sign");
const recipient = entry("tax-wang", "encrypt");
const trust = {
  async validate(c) {
    if (!new X509Certificate(c.der).verify(new X509Certificate(gca.der).publicKey)) throw new Error("untrusted");
    return { path: [c, gca], checks: ["signature"], revocation: undefined, warnings: [] };
  },
};

const block = randomBytes(1 << 20);
const inputHash = createHash("sha256");
function* generate() {
  let left = size;
  let i = 0;
  while (left > 0) {
    const n = Math.min(left, 256 * 1024 + (i++ % 7) * 1000);
    const b = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; off += block.length) block.copy(b, off, 0, Math.min(block.length, n - off));
    b[0] = i & 0xff;
    inputHash.update(b);
    left -= n;
    yield b;
  }
}

const sealedPath = join(dir, "big.p7m");
const outPath = join(dir, "big.out");
const sealed = await seal(Readable.from(generate()), createWriteStream(sealedPath), {
  recipients: [recipient.cert],
  signer,
});
const afterSeal = process.resourceUsage().maxRSS;
const opened = await openFile(sealedPath, outPath, { keys: [recipient], trust });
const result = {
  size,
  sealedBytes: statSync(sealedPath).size,
  contentBytes: opened.contentBytes,
  outBytes: statSync(outPath).size,
  hashOk: opened.contentSha256 === inputHash.digest("hex") && sealed.contentSha256 === opened.contentSha256,
  maxRssAfterSealKiB: afterSeal,
  maxRssKiB: process.resourceUsage().maxRSS,
};
rmSync(sealedPath);
rmSync(outPath);
process.stdout.write(JSON.stringify(result));

// Fuzz targets: each runs one input through a sealpost parser, the way untrusted bytes reach it, and says whether
// the outcome is acceptable: a result, or an error the target's callers expect (a typed SealpostError with a string
// code for the public APIs). Anything else (a TypeError, an asn1js error, a hang, memory past the bound) is a
// finding. Used by scripts/fuzz/run.mjs (campaigns) and tests/fuzz-regressions.test.ts (the files found).
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PassThrough, Readable } from "node:stream";
import { inspect, openStream, seal, verifyFile } from "@sealpost/cms";
import { createTrustPolicy, loadKeystore, parseCertificates, verifyCertificate } from "@sealpost/pki";
import { SealpostError } from "@sealpost/protocol";
import { HOSTILE, manyRecipients } from "../lib/hostile-cms.mjs";

export const REPO = resolve(import.meta.dirname, "../..");
// The shared vectors beside the repository, read in place (SEALPOST_VECTORS names them from a worktree elsewhere).
const VECTORS = process.env.SEALPOST_VECTORS ?? resolve(REPO, "../shared/vectors");
const PKI = join(REPO, "fixtures/pki");
const dist = (p) => import(pathToFileURL(join(REPO, p)).href);

// Internal parsers reached by path in the built packages (not exported from the packages' index).
const { BerReader, ByteSource } = await dist("packages/cms/dist/ber/reader.js");
const { decode } = await dist("packages/cms/dist/ber/der.js");
const { parseOcspResponse } = await dist("packages/pki/dist/trust/ocsp.js");
const { DerError } = await dist("packages/pki/dist/trust/der.js");

const manifest = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
const pem = (rel) => readFileSync(join(PKI, rel), "utf8");
const [root] = parseCertificates(pem(manifest.root.cert));
const [gca] = parseCertificates(pem(manifest.intermediate.cert));
const fixtureCrls = [manifest.root.crl, manifest.intermediate.crl].map(
  (p) => new Uint8Array(readFileSync(join(PKI, p))),
);
const wang = manifest.people["tax-wang"];
const wangKey = {
  cert: parseCertificates(pem(wang.encrypt.cert))[0],
  privateKey: createPrivateKey(pem(wang.encrypt.key)),
  chain: [gca, root],
};
// Revocation from the fixture CRLs only: no fetching, no OCSP (a fuzzed certificate may name any URL).
const trust = createTrustPolicy({
  anchors: [root],
  intermediates: [gca],
  crls: fixtureCrls,
  fetchCrls: false,
  ocsp: false,
});

/** A scratch folder for targets that read a path; removed at exit. */
const scratch = mkdtempSync(join(existsDir("/dev/shm") ? "/dev/shm" : tmpdir(), "sealpost-fuzz-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
function existsDir(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
let fileNo = 0;
function asFile(buf) {
  const path = join(scratch, `in-${process.pid}-${fileNo++ % 4}`);
  writeFileSync(path, buf);
  return path;
}

/** Every regular file of `dir` (relative to ../shared/vectors), at most `max` bytes each. */
function filesOf(dir, max = 16 * 1024) {
  const full = join(VECTORS, dir);
  const out = [];
  for (const name of readdirSync(full, { recursive: true })) {
    const p = join(full, String(name));
    const st = statSync(p);
    if (st.isFile() && st.size <= max) out.push(readFileSync(p));
  }
  return out;
}
const fixtureFiles = (pred) => {
  const out = [];
  for (const name of readdirSync(PKI, { recursive: true })) {
    const p = join(PKI, String(name));
    if (statSync(p).isFile() && pred(String(name))) out.push(readFileSync(p));
  }
  return out;
};

function typed(e) {
  return e instanceof SealpostError && typeof e.code === "string";
}

/** Walks any BER: headers, constructed strings through the segment parser, small elements decoded whole. */
async function walkBer(buf) {
  const r = new BerReader(ByteSource.from([buf.subarray(0, 7), buf.subarray(7)]));
  const walk = async (depth) => {
    const h = await r.readHeader();
    if ((h.tag & 0xdf) === 0x04 && h.constructed) {
      for await (const _ of r.stringChunks(h));
    } else if (h.constructed && depth < 16) {
      while (!(await r.atEnd(h))) await walk(depth + 1);
    } else await r.skipContent(h);
  };
  while (!(await r.src.atEof())) await walk(0);
  if (buf.length < 1 << 20) decode(buf);
}

/** Small files sealed to tax-wang by soc-chen (fixture keys): GCM/OAEP, CBC/PKCS#1 v1.5, by subjectKeyIdentifier. */
async function sealedSeeds() {
  const chen = manifest.people["soc-chen"];
  const signer = {
    cert: parseCertificates(pem(chen.sign.cert))[0],
    privateKey: createPrivateKey(pem(chen.sign.key)),
    chain: [gca],
  };
  const out = [];
  for (const [size, opts] of [
    [300, {}],
    [5000, { cipher: "aes-256-cbc", keyTransport: "pkcs1" }],
    [40, { recipientIdentifier: "subjectKeyIdentifier" }],
  ]) {
    const sink = new PassThrough();
    const parts = [];
    sink.on("data", (c) => parts.push(c));
    await seal(Readable.from([Buffer.alloc(size, 0x41)]), sink, { recipients: [wangKey.cert], signer, ...opts });
    out.push(Buffer.concat(parts));
  }
  return out;
}

/** soc-chen's keystore exported by openssl with 1 and 16 iterations (cheap to open, so mutants run fast). */
function fastKeystores() {
  const chen = manifest.people["soc-chen"];
  const out = [];
  for (const iter of ["1", "16"]) {
    out.push(
      execFileSync("openssl", [
        ...["pkcs12", "-export", "-iter", iter, "-inkey", join(PKI, chen.sign.key), "-in", join(PKI, chen.sign.cert)],
        ...["-certfile", join(PKI, manifest.intermediate.cert), "-passout", `pass:${chen.pin}`],
      ]),
    );
  }
  return out;
}

let ocspSeeds;
/** OCSP responses made by `openssl ocsp` from the fixture CA (good, revoked, on hold), made once per process. */
function makeOcspSeeds() {
  if (ocspSeeds) return ocspSeeds;
  const dir = join(scratch, "ocsp");
  mkdirSync(dir, { recursive: true });
  ocspSeeds = [];
  const gcaCert = join(PKI, manifest.intermediate.cert);
  const gcaKey = join(PKI, "intermediate/gca.key.pem");
  for (const [i, cert] of [wang.encrypt.cert, "troubled/revoked/cert.pem", "troubled/on_hold/cert.pem"].entries()) {
    const req = join(dir, `req${i}.der`);
    const resp = join(dir, `resp${i}.der`);
    const run = (args) => execFileSync("openssl", args, { stdio: "pipe", cwd: dir });
    run(["ocsp", "-issuer", gcaCert, "-cert", join(PKI, cert), "-reqout", req, "-no_nonce"]);
    run([
      ...["ocsp", "-index", join(PKI, "ca-db/index.txt"), "-rsigner", gcaCert, "-rkey", gcaKey, "-CA", gcaCert],
      ...["-reqin", req, "-respout", resp, "-ndays", "1"],
    ]);
    ocspSeeds.push(readFileSync(resp));
  }
  return ocspSeeds;
}

/**
 * name -> { seeds(): Buffer[], run(buf): Promise<void> }. `run` resolves when the outcome is acceptable and
 * throws the offending error otherwise.
 */
export const TARGETS = {
  ber: {
    seeds: () => [
      ...filesOf("rfc4134").filter((b) => b[0] === 0x30),
      ...filesOf("openssl-cms").filter((b) => b[0] === 0x30),
      manyRecipients(3),
      ...Object.values(HOSTILE).map((g) => Buffer.concat([...g(512)])),
    ],
    async run(buf) {
      try {
        await walkBer(buf);
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  inspect: {
    seeds: () => [...TARGETS.ber.seeds(), ...filesOf("fuzz-corpora/openssl-cms").slice(0, 400)],
    async run(buf) {
      try {
        await inspect([buf]);
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  open: {
    seeds: async () => [
      ...(await sealedSeeds()),
      ...filesOf("rfc4134").filter((b) => b[0] === 0x30),
      ...filesOf("openssl-cms").filter((b) => b[0] === 0x30),
    ],
    async run(buf) {
      try {
        await openStream(
          (async function* () {
            yield buf;
          })(),
          async () => {},
          { keys: [wangKey], trust, allowUnsigned: true },
        );
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  verify: {
    seeds: () => [...filesOf("rfc4134").filter((b) => b[0] === 0x30), ...filesOf("openssl-cms")],
    async run(buf) {
      try {
        await verifyFile(asFile(buf), { trust });
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  cert: {
    seeds: () => [
      ...filesOf("fuzz-corpora/boringssl-parse_certificate_fuzzer_corpus", 16 * 1024).slice(0, 600),
      ...filesOf("pkits/certs"),
      ...fixtureFiles((n) => n.endsWith(".cert.pem")),
    ],
    async run(buf) {
      try {
        const certs = parseCertificates(new Uint8Array(buf));
        await verifyCertificate(certs[0].der, { anchors: [root.der], intermediates: [gca.der], revocation: "off" });
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  crl: {
    seeds: () => [
      ...filesOf("fuzz-corpora/openssl-crl").slice(0, 600),
      ...filesOf("pkits/crls"),
      ...fixtureFiles((n) => n.endsWith(".crl.pem") || n.endsWith(".crl.der")),
    ],
    async run(buf) {
      try {
        createTrustPolicy({ anchors: [root], crls: [new Uint8Array(buf)], fetchCrls: false, ocsp: false });
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
  ocsp: {
    seeds: () => makeOcspSeeds(),
    async run(buf) {
      try {
        parseOcspResponse(new Uint8Array(buf));
      } catch (e) {
        // The OCSP client turns any error of the parser into "unavailable": its own errors are DerError and
        // plain Error with a reason; a TypeError, RangeError or a library's error is a bug.
        if (!(e instanceof DerError) && e?.constructor !== Error) throw e;
      }
    },
  },
  keystore: {
    seeds: () => [
      ...filesOf("pkcs12").filter((b) => b[0] === 0x30),
      ...filesOf("fuzz-corpora/boringssl-pkcs12_corpus"),
      ...fixtureFiles((n) => n.endsWith(".p12")),
      ...fastKeystores(),
    ],
    // The key-derivation budget (pki/src/keystore/kdf-budget.ts: 10 million units per file) allows 2-5 s by design.
    slowCpuMs: 6000,
    async run(buf) {
      try {
        await loadKeystore(asFile(buf), { pin: "soc-chen-PIN-1234" });
      } catch (e) {
        if (!typed(e)) throw e;
      }
    },
  },
};

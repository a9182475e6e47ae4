// Child process of tests/fuzz-corpora.test.ts: feeds fuzz-corpus files to sealpost's parsers and reports, per file
// and per API call, whether the call resolved or how it was rejected. It never judges: the parent classifies the
// outcomes (typed SealpostError with a known code, or a failure) and watches this process for hangs and memory.
//
// Usage (fork with IPC): fuzz-child.mjs <config JSON>, config = { corporaDir, pkiDir, outDir, callTimeoutMs,
//   corpora: string[], skip: { [corpus]: number } }. `skip` resumes a corpus after a file that hung or blew memory.
// The corpus "harness-selftest" checks the watchdog itself: each file's name says how its call misbehaves.
// Messages to the parent: { type: "begin", corpus, index, file } before each file, { type: "file", corpus, index,
//   file, calls: Outcome[] } after it, { type: "done", maxRssKiB } at the end (then the child exits).
// Outcome = { api, result: "resolved" } | { api, result: "rejected", sealpost, derError, name, code, message, stack }
//         | { api, result: "timeout", ms } | { api, result: "leftover", files } (openFile/verifyFile left files in outDir).
import { createPrivateKey } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { inspect, openFile, verifyFile } from "@sealpost/cms";
import { certificateToPem, createTrustPolicy, loadKeystore, parseCertificate, verifyCertificate } from "@sealpost/pki";
import { SealpostError } from "@sealpost/protocol";

const config = JSON.parse(process.argv[2] ?? "{}");
const { corporaDir, pkiDir, outDir, callTimeoutMs, corpora, skip = {} } = config;

// The CRL parser behind createTrustPolicy({ crls }) is not exported from @sealpost/pki's index; its module in the
// built package is loaded by path so that errors the policy wraps into MALFORMED are still seen as they are.
const pkiDist = resolve(pkiDir, "../../packages/pki/dist/trust");
const { parseCrls } = await import(pathToFileURL(join(pkiDist, "crl.js")).href);
const { DerError } = await import(pathToFileURL(join(pkiDist, "der.js")).href);
if (typeof parseCrls !== "function" || typeof DerError !== "function")
  throw new Error("fuzz-child: CRL parser not found");

// Fixture PKI (fictional agencies and people): the GCA chain, its CRLs, and one person's keys.
const manifest = JSON.parse(readFileSync(join(pkiDir, "manifest.json"), "utf8"));
const pem = (rel) => readFileSync(join(pkiDir, rel), "utf8");
const root = parseCertificate(pem(manifest.root.cert));
const intermediate = parseCertificate(pem(manifest.intermediate.cert));
const fixtureCrls = [manifest.root.crl, manifest.intermediate.crl].map(
  (p) => new Uint8Array(readFileSync(join(pkiDir, p))),
);
const person = manifest.people["soc-chen"];
const keyEntry = (pair) => ({
  cert: parseCertificate(pem(pair.cert)),
  privateKey: createPrivateKey(pem(pair.key)),
  chain: [intermediate, root],
});
const encryptEntry = keyEntry(person.encrypt);
const signEntry = keyEntry(person.sign);
const fixtureCertPath = join(pkiDir, person.encrypt.cert);
const trust = createTrustPolicy({ anchors: [root], intermediates: [intermediate], crls: fixtureCrls });
/** Content for detached signatures: a fixture file outside outDir (any file will do; it never matches). */
const detachedContentPath = join(pkiDir, "manifest.json");

/** Runs `fn` with a time bound; an async hang becomes a "timeout" outcome (a synchronous one is the parent's job). */
async function call(api, fn) {
  let timer;
  const timeout = new Promise((res) => {
    timer = setTimeout(() => res({ api, result: "timeout", ms: callTimeoutMs }), callTimeoutMs);
  });
  const run = (async () => {
    try {
      await fn();
      return { api, result: "resolved" };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return {
        api,
        result: "rejected",
        sealpost: e instanceof SealpostError,
        derError: e instanceof DerError,
        name: err.constructor?.name ?? typeof e,
        code: typeof e?.code === "string" ? e.code : undefined,
        message: String(err.message).slice(0, 300),
        stack: String(err.stack ?? "")
          .split("\n")
          .slice(0, 8)
          .join("\n"),
      };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** After openFile/verifyFile: a rejected call must leave outDir empty; a resolved one leaves only its output. */
async function leftovers(outcome, outPath) {
  const names = await readdir(outDir);
  const expected = outcome.result === "resolved" ? [outPath.slice(outDir.length + 1)] : [];
  const extra = names.filter((n) => !expected.includes(n));
  await Promise.all(names.map((n) => rm(join(outDir, n), { force: true })));
  return extra.length > 0 ? [{ api: `${outcome.api} output`, result: "leftover", files: extra }] : [];
}

/** The API calls made for one file of each corpus. */
const runners = {
  async "openssl-cms"(path, index) {
    const out = [];
    out.push(
      await call("inspect", async () => {
        const s = createReadStream(path);
        try {
          const r = await inspect(s);
          // inspect refuses trailing bytes, so a result must account for the whole file.
          const size = statSync(path).size;
          if (r.totalBytes !== size) throw new Error(`inspect: totalBytes ${r.totalBytes} but the file has ${size}`);
        } finally {
          s.destroy();
        }
      }),
    );
    const openOut = join(outDir, `open-${index}.out`);
    const opened = await call("openFile", () =>
      openFile(path, openOut, { keys: [encryptEntry, signEntry], trust, allowUnsigned: true }),
    );
    out.push(opened, ...(await leftovers(opened, openOut)));
    const verifyOut = join(outDir, `verify-${index}.out`);
    // Detached signatures get a (wrong) content file, so their signer infos are checked rather than refused early.
    const verified = await call("verifyFile", () =>
      verifyFile(path, { trust, outPath: verifyOut, content: detachedContentPath }),
    );
    out.push(verified, ...(await leftovers(verified, verifyOut)));
    return out;
  },
  async "openssl-crl"(path) {
    const bytes = new Uint8Array(readFileSync(path));
    const internal = await call("parseCrls", () => parseCrls(bytes, "fuzz"));
    const viaPolicy = await call("createTrustPolicy+validate", async () => {
      const policy = createTrustPolicy({
        anchors: [root],
        intermediates: [intermediate],
        crls: [bytes, ...fixtureCrls],
      });
      await policy.validate(signEntry.cert, { purpose: "sign" });
    });
    return [internal, viaPolicy];
  },
  async "boringssl-pkcs12_corpus"(path) {
    return [
      await call('loadKeystore pin ""', () => loadKeystore(path, { pin: "" })),
      await call('loadKeystore pin "foo"', () => loadKeystore(path, { pin: "foo" })),
      await call("loadKeystore no pin", () => loadKeystore(path, {})),
    ];
  },
  async "boringssl-pkcs8_corpus"(path) {
    return runners.keyFile(path);
  },
  async "boringssl-privkey_corpus"(path) {
    return runners.keyFile(path);
  },
  async keyFile(path) {
    return [
      await call("loadKeystore+certPath no pin", () => loadKeystore(path, { certPath: fixtureCertPath })),
      await call('loadKeystore+certPath pin "foo"', () =>
        loadKeystore(path, { pin: "foo", certPath: fixtureCertPath }),
      ),
    ];
  },
  async "boringssl-parse_certificate_fuzzer_corpus"(path) {
    const bytes = new Uint8Array(readFileSync(path));
    return [
      await call("parseCertificate", () => {
        // A certificate that parses must survive re-encoding: PEM out, parsed again, same DER.
        const cert = parseCertificate(bytes);
        const again = parseCertificate(certificateToPem(cert));
        if (Buffer.compare(again.der, cert.der) !== 0)
          throw new Error("parseCertificate: PEM round trip changed the DER");
      }),
      await call("verifyCertificate", () =>
        verifyCertificate(bytes, { anchors: [root.der], intermediates: [intermediate.der], revocation: "off" }),
      ),
    ];
  },
  async "harness-selftest"(path) {
    const held = [];
    const behaviours = {
      ok: () => undefined,
      typed: () => {
        throw new SealpostError("MALFORMED", "a typed failure");
      },
      "undeclared-code": () => {
        throw new SealpostError("NOT_A_CODE", "a typed failure with a code nobody declared");
      },
      "type-error": () => null.x,
      "async-hang": () => new Promise(() => {}),
      "sync-hang": () => {
        for (;;);
      },
      memory: async () => {
        for (let i = 0; i < 24; i++) held.push(Buffer.alloc(16 * 1024 * 1024, 1));
        await new Promise((res) => setTimeout(res, 10_000));
      },
      crash: () => process.exit(70),
    };
    return [await call("selftest", behaviours[basename(path)])];
  },
};

for (const corpus of corpora) {
  const runner = runners[corpus];
  if (!runner) throw new Error(`fuzz-child: no runner for corpus ${corpus}`);
  const files = (await readdir(join(corporaDir, corpus))).sort();
  for (let index = skip[corpus] ?? 0; index < files.length; index++) {
    const file = files[index];
    process.send({ type: "begin", corpus, index, file });
    const calls = await runner(join(corporaDir, corpus, file), index);
    process.send({ type: "file", corpus, index, file, calls });
  }
}
process.send({ type: "done", maxRssKiB: process.resourceUsage().maxRSS }, () => process.exit(0));

// Robustness against other projects' fuzzing corpora (../shared/vectors/fuzz-corpora, see its SOURCES.md): every
// file goes to the matching sealpost parser, and each call must resolve or reject with a SealpostError (PkiError,
// CmsError) whose `code` is one of the declared codes: never a TypeError/RangeError/asn1js error, never a hang,
// never unbounded memory. The corpora run in two child processes (tests/helpers/fuzz-child.mjs) watched from here:
// a file that takes longer than FILE_WATCHDOG_MS or pushes the child's RSS over RSS_LIMIT_MIB kills the child,
// is recorded as a failure, and the child restarts after that file. openFile/verifyFile write into a temp dir that
// must be empty after each failed call.
//
// The SPKI corpus is not run: @sealpost/pki exports no parser for a bare SubjectPublicKeyInfo (public keys are only
// read inside certificates, which the certificate corpus covers).
import { type ChildProcess, fork } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const vectorsDir = resolve(repoRoot, "../shared/vectors");
const corporaDir = join(vectorsDir, "fuzz-corpora");
const pkiDir = join(repoRoot, "fixtures/pki");
const childScript = join(repoRoot, "tests/helpers/fuzz-child.mjs");

/** Bound of one API call inside the child (async hangs). */
const CALL_TIMEOUT_MS = 5_000;
/** Bound of one file (all its calls) seen from the parent: catches synchronous hangs too. */
const FILE_WATCHDOG_MS = 20_000;
/** Resident memory the child may reach (sampled every 100 ms, plus the child's own maxRSS at the end). */
const RSS_LIMIT_MIB = 512;

/**
 * Known bugs found by this test, with the exact corpus files and API calls that show them (reported to the owner of
 * the package; see each entry's `bug`). The corpus checks skip exactly these calls so they keep guarding every
 * other file; the "known bugs" tests below assert the correct behaviour on the same calls and fail until fixed.
 */
interface KnownBug {
  id: string;
  bug: string;
  fix: string;
  cases: Array<{ corpus: string; api: string; files: string[] }>;
}
const knownBugs: KnownBug[] = JSON.parse(readFileSync(join(repoRoot, "tests/helpers/fuzz-known-bugs.json"), "utf8"));
const expectedFailures = new Set(
  knownBugs.flatMap((b) => b.cases.flatMap((c) => c.files.map((f) => `${c.corpus}/${f} ${c.api}`))),
);

type Outcome =
  | { api: string; result: "resolved" }
  | {
      api: string;
      result: "rejected";
      sealpost: boolean;
      derError: boolean;
      name: string;
      code?: string;
      message: string;
      stack: string;
    }
  | { api: string; result: "timeout"; ms?: number }
  | { api: string; result: "leftover"; files: string[] };

interface FileRecord {
  corpus: string;
  file: string;
  calls: Outcome[];
  /** Set when the parent's watchdog ended the child on this file (hang, memory, crash). */
  why?: string;
}

type ChildMessage =
  | { type: "begin"; corpus: string; index: number; file: string }
  | { type: "file"; corpus: string; index: number; file: string; calls: Outcome[] }
  | { type: "done"; maxRssKiB: number };

/** The string codes declared by PkiErrorCode and CmsErrorCode (read from their sources, so they stay in sync). */
function declaredCodes(): Set<string> {
  const codes = new Set<string>();
  for (const [file, type] of [
    ["packages/pki/src/errors.ts", "PkiErrorCode"],
    ["packages/cms/src/errors.ts", "CmsErrorCode"],
  ] as const) {
    const text = readFileSync(join(repoRoot, file), "utf8");
    const decl = new RegExp(`export type ${type} =([^;]*);`).exec(text)?.[1];
    if (!decl) throw new Error(`${type} not found in ${file}`);
    for (const m of decl.matchAll(/"([A-Z_]+)"/g)) codes.add(m[1] as string);
  }
  return codes;
}

async function rssMiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0; // the child has exited
  }
}

/**
 * Runs `corpora` (in order) in a child; restarts it after a file that hung, crashed it or exceeded the memory
 * limit (that file is recorded with a "watchdog" outcome). Returns every file's record and the children's maxRSS.
 */
async function runCorpora(
  corpora: string[],
  outDir: string,
  bounds = {
    dir: corporaDir,
    callTimeoutMs: CALL_TIMEOUT_MS,
    fileWatchdogMs: FILE_WATCHDOG_MS,
    rssLimitMiB: RSS_LIMIT_MIB,
  },
): Promise<{ records: FileRecord[]; maxRssMiB: number }> {
  const { callTimeoutMs, fileWatchdogMs, rssLimitMiB } = bounds;
  const records: FileRecord[] = [];
  const skip: Record<string, number> = {};
  let remaining = [...corpora];
  let maxRssMiB = 0;
  for (let restarts = 0; remaining.length > 0; restarts++) {
    if (restarts > 25) throw new Error(`fuzz child restarted ${restarts} times; giving up`);
    const config = { corporaDir: bounds.dir, pkiDir, outDir, callTimeoutMs, corpora: remaining, skip };
    const child: ChildProcess = fork(childScript, [JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let current: { corpus: string; index: number; file: string } | undefined;
    let killedFor: string | undefined;
    let done = false;
    let watchdog: NodeJS.Timeout | undefined;
    const kill = (why: string) => {
      if (killedFor || done) return;
      killedFor = why;
      child.kill("SIGKILL");
    };
    const sampler = setInterval(async () => {
      if (child.pid === undefined) return;
      const mib = await rssMiB(child.pid);
      maxRssMiB = Math.max(maxRssMiB, mib);
      if (mib > rssLimitMiB) kill(`memory: resident ${mib.toFixed(0)} MiB > ${rssLimitMiB} MiB`);
    }, 100);
    child.on("message", (m: ChildMessage) => {
      if (m.type === "begin") {
        current = m;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => kill(`hang: no result within ${fileWatchdogMs} ms`), fileWatchdogMs);
      } else if (m.type === "file") {
        clearTimeout(watchdog);
        records.push({ corpus: m.corpus, file: m.file, calls: m.calls });
        current = undefined;
      } else if (m.type === "done") {
        done = true;
        maxRssMiB = Math.max(maxRssMiB, m.maxRssKiB / 1024);
      }
    });
    const exit = await new Promise<{ code: number | null; signal: string | null }>((res) =>
      child.on("exit", (code, signal) => res({ code, signal })),
    );
    clearInterval(sampler);
    clearTimeout(watchdog);
    if (done && exit.code === 0) break;
    if (!current) throw new Error(`fuzz child failed outside any file (exit ${exit.code ?? exit.signal}): ${stderr}`);
    const why = killedFor ?? `crash: child exited with ${exit.code ?? exit.signal}: ${stderr.trim().slice(-600)}`;
    records.push({ corpus: current.corpus, file: current.file, calls: [{ api: "watchdog", result: "timeout" }], why });
    const at = remaining.indexOf(current.corpus);
    remaining = remaining.slice(at);
    skip[current.corpus] = current.index + 1;
  }
  return { records, maxRssMiB };
}

/** Why an outcome breaks the contract, or undefined when it keeps it (resolved, or a typed error). */
function failureOf(r: FileRecord, c: Outcome, codes: Set<string>): string | undefined {
  if (c.result === "resolved") return undefined;
  if (c.result === "rejected") {
    if (c.sealpost && c.code && codes.has(c.code)) return undefined;
    // The internal CRL parser's documented failure is DerError (createTrustPolicy turns it into PkiError MALFORMED).
    if (c.api === "parseCrls" && c.derError) return undefined;
    const what = c.sealpost ? `SealpostError with undeclared code ${c.code}` : c.name;
    return `${what}: ${c.message}\n${c.stack}`;
  }
  if (c.result === "timeout") return r.why ?? `no result within ${c.ms} ms`;
  return `files left in the output directory after a failure: ${c.files.join(", ")}`;
}

function typedLabel(c: Outcome): string {
  if (c.result !== "rejected") return c.result;
  return c.sealpost ? (c.code ?? "?") : c.derError ? "DerError" : c.name;
}

interface Summary {
  files: number;
  /** Per API: calls, resolved, typed errors by code, known-bug calls, failures. */
  apis: Record<
    string,
    { calls: number; ok: number; typed: Record<string, number>; knownBug: number; failures: number }
  >;
  failures: string[];
}

function summarise(records: FileRecord[], codes: Set<string>): Map<string, Summary> {
  const out = new Map<string, Summary>();
  for (const r of records) {
    let s = out.get(r.corpus);
    if (!s) {
      s = { files: 0, apis: {}, failures: [] };
      out.set(r.corpus, s);
    }
    s.files++;
    for (const c of r.calls) {
      s.apis[c.api] ??= { calls: 0, ok: 0, typed: {}, knownBug: 0, failures: 0 };
      const a = s.apis[c.api];
      a.calls++;
      const failure = failureOf(r, c, codes);
      const key = `${r.corpus}/${r.file} ${c.api}`;
      if (failure === undefined) {
        if (c.result === "resolved") a.ok++;
        else a.typed[typedLabel(c)] = (a.typed[typedLabel(c)] ?? 0) + 1;
      } else if (expectedFailures.has(key)) {
        a.knownBug++;
      } else {
        a.failures++;
        s.failures.push(`${key}: ${failure}`);
      }
    }
  }
  return out;
}

function report(name: string, s: Summary): void {
  const lines = [`fuzz corpus ${name}: ${s.files} files`];
  for (const [api, a] of Object.entries(s.apis)) {
    const typed = Object.entries(a.typed)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    const known = a.knownBug > 0 ? `, ${a.knownBug} known bug` : "";
    lines.push(`  ${api}: ${a.calls} calls, ${a.ok} ok, typed {${typed}}${known}, ${a.failures} failures`);
  }
  for (const f of s.failures.slice(0, 20)) lines.push(`  FAIL ${f.split("\n").slice(0, 4).join(" | ")}`);
  console.log(lines.join("\n"));
}

/** inspect's verdicts next to `openssl cms -cmsout -inform DER` (informational: neither side is ground truth). */
function compareWithOpenssl(records: FileRecord[]): {
  both: number;
  neither: number;
  opensslOnly: string[];
  sealpostOnly: string[];
} {
  const baseline: { result: Record<string, "parses" | "rejected"> } = JSON.parse(
    readFileSync(join(corporaDir, "openssl-cms-baseline.json"), "utf8"),
  );
  const cmp = { both: 0, neither: 0, opensslOnly: [] as string[], sealpostOnly: [] as string[] };
  for (const r of records) {
    if (r.corpus !== "openssl-cms") continue;
    const ours = r.calls.find((c) => c.api === "inspect")?.result === "resolved";
    const theirs = baseline.result[r.file] === "parses";
    if (ours && theirs) cmp.both++;
    else if (!ours && !theirs) cmp.neither++;
    else (ours ? cmp.sealpostOnly : cmp.opensslOnly).push(r.file);
  }
  return cmp;
}

const CMS_CORPORA = ["openssl-cms"];
const OTHER_CORPORA = [
  "openssl-crl",
  "boringssl-pkcs12_corpus",
  "boringssl-pkcs8_corpus",
  "boringssl-privkey_corpus",
  "boringssl-parse_certificate_fuzzer_corpus",
];

const codes = declaredCodes();

describe("fuzz harness", () => {
  it("records typed errors, untyped errors, async and sync hangs, memory blow-ups and crashes, and carries on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-fuzz-selftest-"));
    try {
      const names = ["async-hang", "crash", "memory", "ok", "sync-hang", "type-error", "typed", "undeclared-code"];
      mkdirSync(join(dir, "harness-selftest"));
      mkdirSync(join(dir, "out"));
      for (const n of names) writeFileSync(join(dir, "harness-selftest", n), "");
      const bounds = { dir, callTimeoutMs: 500, fileWatchdogMs: 3_000, rssLimitMiB: 250 };
      const { records: got } = await runCorpora(["harness-selftest"], join(dir, "out"), bounds);
      const verdicts = Object.fromEntries(
        got.map((r) => {
          const c = r.calls[0] as Outcome;
          const failure = failureOf(r, c, codes);
          return [r.file, failure === undefined ? typedLabel(c) : `FAIL ${failure.split(/[:\n]/)[0]}`];
        }),
      );
      expect(verdicts).toEqual({
        "async-hang": "FAIL no result within 500 ms",
        crash: "FAIL crash",
        memory: "FAIL memory",
        ok: "resolved",
        "sync-hang": "FAIL hang",
        "type-error": "FAIL TypeError",
        typed: "MALFORMED",
        "undeclared-code": "FAIL SealpostError with undeclared code NOT_A_CODE",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
let records: FileRecord[] | undefined;
let summaries = new Map<string, Summary>();
let maxRssMiB = 0;

describe("fuzz corpora: a result or a typed error, bounded in time and memory", () => {
  let outDir = "";
  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), "sealpost-fuzz-"));
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("runs every file of every corpus (SPKI skipped: no public SPKI parser)", { timeout: 900_000 }, async () => {
    const cmsOut = join(outDir, "cms");
    const otherOut = join(outDir, "other");
    mkdirSync(cmsOut);
    mkdirSync(otherOut);
    const [cms, other] = await Promise.all([runCorpora(CMS_CORPORA, cmsOut), runCorpora(OTHER_CORPORA, otherOut)]);
    records = [...cms.records, ...other.records];
    maxRssMiB = Math.max(cms.maxRssMiB, other.maxRssMiB);
    summaries = summarise(records, codes);
    for (const [name, s] of summaries) report(name, s);
    const cmp = compareWithOpenssl(records);
    console.log(
      `openssl-cms inspect vs openssl cms -cmsout: both parse ${cmp.both}, both reject ${cmp.neither}, ` +
        `only openssl parses ${cmp.opensslOnly.length}, only sealpost parses ${cmp.sealpostOnly.length}` +
        (cmp.sealpostOnly.length > 0 ? ` (${cmp.sealpostOnly.join(", ")})` : ""),
    );
    console.log(`fuzz corpora: largest child RSS ${maxRssMiB.toFixed(0)} MiB (limit ${RSS_LIMIT_MIB} MiB)`);

    for (const corpus of [...CMS_CORPORA, ...OTHER_CORPORA]) {
      expect(summaries.get(corpus)?.files, corpus).toBe(readdirSync(join(corporaDir, corpus)).length);
    }
    // The run reached real parsing, not only first-byte rejections.
    expect(summaries.get("openssl-cms")?.apis.inspect?.ok).toBeGreaterThan(0);
    expect(summaries.get("boringssl-parse_certificate_fuzzer_corpus")?.apis.parseCertificate?.ok).toBeGreaterThan(0);
    expect(summaries.get("openssl-crl")?.apis["createTrustPolicy+validate"]?.ok).toBeGreaterThan(0);
    expect(readdirSync(cmsOut)).toEqual([]);
    expect(readdirSync(otherOut)).toEqual([]);
  });

  it("no call outside the known bugs throws an untyped error, hangs or leaves output behind", () => {
    expect(records).toBeDefined();
    expect([...summaries.values()].flatMap((s) => s.failures)).toEqual([]);
  });

  it("memory stays bounded", () => {
    expect(maxRssMiB).toBeGreaterThan(0);
    expect(maxRssMiB).toBeLessThan(RSS_LIMIT_MIB);
  });
});

// These fail until packages/pki/src/trust/der.ts is fixed (see tests/helpers/fuzz-known-bugs.json).
describe("known bugs: the correct behaviour on the exact inputs that show them", () => {
  for (const bug of knownBugs) {
    it(`${bug.id}: every listed call gives a result or a typed error`, () => {
      expect(records).toBeDefined();
      const broken: string[] = [];
      for (const c of bug.cases) {
        for (const file of c.files) {
          const r = records?.find((x) => x.corpus === c.corpus && x.file === file);
          const call = r?.calls.find((x) => x.api === c.api);
          if (!r || !call) broken.push(`${c.corpus}/${file} ${c.api}: not run`);
          else {
            const failure = failureOf(r, call, codes);
            if (failure) broken.push(`${c.corpus}/${file} ${c.api}: ${failure.split("\n")[0]}`);
          }
        }
      }
      // Fix: see bug.fix. The first few offending calls are shown; the count covers all listed ones.
      expect({ broken: broken.length, first: broken.slice(0, 5) }, `${bug.bug} Fix: ${bug.fix}.`).toEqual({
        broken: 0,
        first: [],
      });
    });
  }

  it("pki-der-universalstring-codepoint: a validly signed and sealed file carrying corpus certificate 43dfd4bc... verifies, opens, or fails with a typed SealpostError", async () => {
    const pki = await import("@sealpost/pki");
    const cms = await import("@sealpost/cms");
    const { SealpostError } = await import("@sealpost/protocol");
    const manifest = JSON.parse(readFileSync(join(pkiDir, "manifest.json"), "utf8"));
    const pem = (rel: string) => readFileSync(join(pkiDir, rel), "utf8");
    const root = pki.parseCertificate(pem(manifest.root.cert));
    const intermediate = pki.parseCertificate(pem(manifest.intermediate.cert));
    // A certificate from the corpus that parseCertificate accepts (UniversalString with code points above U+10FFFF).
    const corpusCert = pki.parseCertificate(
      new Uint8Array(
        readFileSync(
          join(corporaDir, "boringssl-parse_certificate_fuzzer_corpus/43dfd4bc185bd6babd9e447b87ed86176e8a88cc"),
        ),
      ),
    );
    const person = manifest.people["soc-chen"];
    const entry = (pair: { cert: string; key: string }, chain: (typeof root)[]) => ({
      cert: pki.parseCertificate(pem(pair.cert)),
      privateKey: createPrivateKey(pem(pair.key)),
      chain,
    });
    // The signer's chain carries the corpus certificate, so the file's certificate set holds it.
    const signer = entry(person.sign, [intermediate, root, corpusCert]);
    const recipient = entry(person.encrypt, [intermediate, root]);
    const trust = pki.createTrustPolicy({
      anchors: [root],
      intermediates: [intermediate],
      crls: [manifest.root.crl, manifest.intermediate.crl].map(
        (p: string) => new Uint8Array(readFileSync(join(pkiDir, p))),
      ),
    });
    const dir = mkdtempSync(join(tmpdir(), "sealpost-fuzz-e2e-"));
    try {
      writeFileSync(join(dir, "notice.txt"), "Fictional test notice for 陳怡君, KHH-SOC.\n");
      await cms.signFile(join(dir, "notice.txt"), join(dir, "notice.p7m"), { signer });
      await cms.sealFile(join(dir, "notice.txt"), join(dir, "notice.sealed"), { signer, recipients: [recipient.cert] });
      const outcome = async (p: Promise<unknown>) =>
        p.then(
          () => "resolved",
          (e: unknown) =>
            e instanceof SealpostError
              ? `typed ${e.code}`
              : `untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
        );
      const verified = await outcome(
        cms.verifyFile(join(dir, "notice.p7m"), { trust, outPath: join(dir, "verified.txt") }),
      );
      const opened = await outcome(
        cms.openFile(join(dir, "notice.sealed"), join(dir, "opened.txt"), { keys: [recipient], trust }),
      );
      const left = readdirSync(dir).filter((n) => n.startsWith("."));
      expect({ verified, opened, left }).toEqual({
        verified: expect.stringMatching(/^(resolved|typed )/),
        opened: expect.stringMatching(/^(resolved|typed )/),
        left: [],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

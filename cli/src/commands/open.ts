import { basename, dirname, join, resolve } from "node:path";
import { type OpenResult, openFile } from "@sealpost/cms";
import type { Command } from "commander";
import { certOneLine, signerJson } from "../describe.js";
import { usageError } from "../errors.js";
import { assertCanWrite, copyFileToStdout, guardTempFiles, inputSize, isStdio, privateTempDir } from "../files.js";
import { loadKeys } from "../keys.js";
import { formatBytes, formatDate } from "../output.js";
import { createProgress } from "../progress.js";
import { buildTrust } from "../trust.js";
import { printTrustResult, trustResultJson } from "./cert.js";
import { addKeyOptions, addOutputOptions, addTrustOptions, keyContext, type Runtime } from "./common.js";
import { manifestJson, printManifest } from "./manifest.js";

interface OpenCliOptions {
  key?: string;
  cert?: string;
  pinFile?: string;
  output?: string;
  force?: boolean;
  allowUnsigned?: boolean;
  allowForwarded?: boolean;
  trust?: string[];
  intermediate?: string[];
  crl?: string[];
  revocation?: "require" | "prefer" | "off";
}

/** The default output of `open`: FILE without its ".p7m" suffix; undefined when that is not clear. */
export function defaultOpenOutput(file: string): string | undefined {
  const m = /^(.+)\.p7m$/i.exec(basename(file));
  if (!m?.[1] || m[1] === "." || m[1] === "..") return undefined;
  return join(dirname(file), m[1]);
}

/** `sealpost open FILE.p7m --key KEYSTORE --trust ROOT`. */
export function registerOpenCommand(program: Command, rt: Runtime): void {
  const cmd = program
    .command("open")
    .description("decrypt a sealed file, verify its signature and signer, and only then write the content")
    .argument("<file>", 'the sealed file ("-" for stdin, then -o is required)');
  addKeyOptions(cmd);
  addTrustOptions(cmd);
  cmd.option("--allow-unsigned", "accept content that carries no signature (default: refuse, exit 7)");
  cmd.option(
    "--allow-forwarded",
    "open a file whose signed manifest does not name you (a forwarded copy; default: refuse, exit 7)",
  );
  addOutputOptions(cmd, "where to write the content (default: FILE without .p7m)");
  cmd.addHelpText(
    "after",
    `
Nothing is written until the decryption tag, the signature, the signed attributes and the signer's certificate path
(and its revocation status, now) have all checked out, and the signed manifest names you: one of its recipient
certificate hashes is yours or, for files without them, its receiving agency is yours (the config's "agency", else
your certificate's O / OU). A forwarded copy is refused (exit 7) unless --allow-forwarded. With -o - the content is written to a private temporary file
first and copied to stdout only after every check passed.

Examples:
  sealpost open batch.csv.p7m --key tax-wang.p12 --trust grca.cert.pem --crl gca.crl --crl grca.crl
  SEALPOST_PIN=... sealpost open batch.csv.p7m -o - | wc -l     # keystore, trust and CRLs from the config file`,
  );
  cmd.action(async (file: string, opts: OpenCliOptions) => openAction(rt, file, opts));
}

async function openAction(rt: Runtime, file: string, opts: OpenCliOptions): Promise<void> {
  const { out } = rt;
  const config = await rt.config();
  const fromStdin = isStdio(file);
  let output = opts.output;
  if (output === undefined) {
    output = fromStdin ? undefined : defaultOpenOutput(file);
    if (output === undefined) {
      throw usageError(
        fromStdin
          ? "Opening from stdin needs -o FILE (or -o - for stdout)."
          : `Cannot tell where to write the content of ${file}: its name does not end in .p7m.`,
        "Give the output file with -o FILE (or -o - for stdout).",
      );
    }
  }
  const toStdout = isStdio(output);
  if (toStdout && out.json) throw usageError("--json cannot be combined with -o - (both would use stdout).");
  if (!fromStdin && !toStdout && resolve(file) === resolve(output)) {
    throw usageError("The output would overwrite the input.", "Choose another name with -o.");
  }
  const size = fromStdin ? undefined : await inputSize(file);
  if (!toStdout) await assertCanWrite(output, opts.force === true);
  if (!toStdout) await guardTempFiles(output, (w) => out.warn(w));
  const trust = await buildTrust(opts, config);
  if (!trust.policy) {
    throw usageError(
      "open needs a trust anchor to check who signed the file.",
      'Pass --trust ROOT.pem (your root certificate, e.g. the GRCA), or set "trust" in the config file.',
    );
  }
  const { keystore } = await loadKeys(opts, keyContext(rt, config));
  const progress = createProgress({ label: "opening", total: size, quiet: out.quiet });
  const options = {
    keys: keystore.entries,
    trust: trust.policy,
    intermediates: trust.intermediates,
    allowUnsigned: opts.allowUnsigned === true,
    allowForwarded: opts.allowForwarded === true,
    ...(config.agency ? { openerAgencies: [config.agency] } : {}),
    onProgress: (n: number) => progress.update(n),
  };
  const input = fromStdin ? process.stdin : file;
  let result: OpenResult;
  try {
    if (toStdout) {
      const t = await privateTempDir((w) => out.warn(w));
      try {
        result = await openFile(input, join(t.dir, "content"), options);
        progress.done();
        out.useStdoutForData();
        await copyFileToStdout(join(t.dir, "content"), out.stdout);
      } finally {
        await t.cleanup();
      }
    } else {
      result = await openFile(input, output, { ...options, force: opts.force === true });
    }
  } finally {
    progress.done();
  }
  for (const w of result.warnings) out.warn(w);
  if (result.trust) for (const w of result.trust.warnings) out.warn(w);
  if (!result.signed) out.warn("the content carries no signature: nobody vouches for who sent it (--allow-unsigned)");

  out.line(
    `Opened ${fromStdin ? "stdin" : file} -> ${toStdout ? "stdout" : output} (${formatBytes(result.contentBytes)})`,
  );
  const signer = result.signer ? signerJson(result.signer.cert) : undefined;
  out.fields(
    [
      ["Signer", signer ? signer.commonName || signer.subject : "(unsigned)"],
      ["Subject", signer?.subject],
      ["Agency", signer?.agency],
      [
        "Signing time",
        result.signingTime
          ? `${formatDate(result.signingTime)} (as the signer wrote it; the signer was checked now)`
          : undefined,
      ],
      ["Recipient", certOneLine(result.recipient)],
      [
        "Algorithms",
        `${result.cipher}, key transport ${result.keyTransport}${result.signatureAlgorithm ? `, signature ${result.signatureAlgorithm}` : ""}${result.digest ? ` (${result.digest})` : ""}`,
      ],
      ["Content SHA-256", result.contentSha256],
      ["Checks", result.checks.join(", ")],
    ],
    "  ",
  );
  if (result.manifest) printManifest(out, result.manifest, "  ");
  if (result.trust) printTrustResult(rt, result.trust, "  ");
  out.result("open", {
    input: fromStdin ? "-" : file,
    output,
    signed: result.signed,
    signer: signer ?? null,
    signingTime: formatDate(result.signingTime) ?? null,
    manifest: manifestJson(result.manifest),
    cipher: result.cipher,
    keyTransport: result.keyTransport,
    signatureAlgorithm: result.signatureAlgorithm ?? null,
    digest: result.digest ?? null,
    contentBytes: result.contentBytes,
    contentSha256: result.contentSha256,
    recipient: {
      commonName: result.recipient.commonName,
      subject: result.recipient.subject,
      issuer: result.recipient.issuer,
      serialHex: result.recipient.serialHex,
    },
    nesting: result.nesting,
    checks: result.checks,
    trust: result.trust ? trustResultJson(result.trust) : null,
    warnings: result.warnings,
  });
}

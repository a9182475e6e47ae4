import { basename, resolve } from "node:path";
import { type SignResult, signFile, type VerifyResult, verifyFile } from "@sealpost/cms";
import { pickKey } from "@sealpost/pki";
import { type Command, Option } from "commander";
import { usageError } from "../errors.js";
import {
  assertCanWrite,
  guardTempFiles,
  copyFileToStdout,
  inputSize,
  isStdio,
  privateTempDir,
  spoolStdin,
} from "../files.js";
import { loadKeys } from "../keys.js";
import { formatBytes, formatDate } from "../output.js";
import { createProgress } from "../progress.js";
import { buildTrust } from "../trust.js";
import { printTrustResult, trustResultJson } from "./cert.js";
import { addKeyOptions, addOutputOptions, addTrustOptions, keyContext, type Runtime } from "./common.js";
import { manifestJson, printManifest } from "./manifest.js";
import { signerJson } from "./seal.js";

/** `sealpost sign` and `sealpost verify` (signature only, no encryption). */
export function registerSignCommands(program: Command, rt: Runtime): void {
  const sign = program
    .command("sign")
    .description("sign a file without encrypting it (CMS SignedData)")
    .argument("<file>", 'the file to sign ("-" for stdin, then -o is required)');
  addKeyOptions(sign);
  addOutputOptions(sign, "signature file (default: FILE.p7s)");
  sign
    .option("--detached", "write only the signature; the content stays in FILE")
    .option("--pss", "sign with RSA-PSS instead of RSA PKCS#1 v1.5")
    .addOption(
      new Option("--digest <alg>", "signature digest").choices(["sha256", "sha384", "sha512"]).default("sha256"),
    )
    .addHelpText(
      "after",
      `
Examples:
  sealpost sign report.pdf --key soc-chen.p12                 # report.pdf.p7s holds the content and the signature
  sealpost sign report.pdf --key soc-chen.p12 --detached      # report.pdf.p7s holds the signature only`,
    )
    .action(
      async (
        file: string,
        opts: {
          key?: string;
          cert?: string;
          pinFile?: string;
          output?: string;
          force?: boolean;
          detached?: boolean;
          pss?: boolean;
          digest: "sha256" | "sha384" | "sha512";
        },
      ) => {
        const { out } = rt;
        const config = await rt.config();
        const fromStdin = isStdio(file);
        const output = opts.output ?? (fromStdin ? undefined : `${file}.p7s`);
        if (output === undefined) throw usageError("Signing stdin needs -o FILE (or -o - for stdout).");
        if (fromStdin && opts.detached)
          throw usageError("A detached signature of stdin could not be checked later: sign a file.");
        const toStdout = isStdio(output);
        if (toStdout && out.json) throw usageError("--json cannot be combined with -o - (both would use stdout).");
        if (!fromStdin && !toStdout && resolve(file) === resolve(output)) {
          throw usageError("The output would overwrite the input.", "Choose another name with -o.");
        }
        let size: number | undefined;
        if (!fromStdin) size = await inputSize(file);
        if (!toStdout) {
          await assertCanWrite(output, opts.force === true);
          await guardTempFiles(output);
        }
        const { keystore } = await loadKeys(opts, keyContext(rt, config));
        const signer = pickKey(keystore, "sign");
        const progress = createProgress({ label: "signing", total: size, quiet: out.quiet });
        const spooled = fromStdin ? await spoolStdin() : undefined;
        const temp = toStdout ? await privateTempDir() : undefined;
        let result: SignResult;
        try {
          const target = temp ? `${temp.dir}/signed` : output;
          result = await signFile(spooled?.path ?? file, target, {
            signer,
            detached: opts.detached === true,
            signatureScheme: opts.pss ? "pss" : "pkcs1",
            digest: opts.digest,
            force: opts.force === true,
            onProgress: (n) => progress.update(n),
            ...(fromStdin ? {} : { manifest: { fileName: basename(file), byteSize: size! } }),
          });
          progress.done();
          if (temp) {
            out.useStdoutForData();
            await copyFileToStdout(target, out.stdout);
          }
        } finally {
          progress.done();
          await spooled?.cleanup();
          await temp?.cleanup();
        }
        out.line(
          `Signed ${fromStdin ? "stdin" : file} -> ${toStdout ? "stdout" : output}${result.detached ? " (detached)" : ""}`,
        );
        out.fields(
          [
            ["Signed by", `${signer.cert.commonName || signer.cert.subject} (${signer.cert.subject})`],
            ["Signing time", formatDate(result.signingTime)],
            ["Signature", result.signatureAlgorithm],
            ["Content", `${formatBytes(result.contentBytes)}, SHA-256 ${result.contentSha256}`],
            ["Output", `${formatBytes(result.outputBytes)}, SHA-256 ${result.outputSha256}`],
          ],
          "  ",
        );
        out.result("sign", {
          input: fromStdin ? "-" : file,
          output,
          detached: result.detached,
          signer: signerJson(signer.cert),
          signingTime: formatDate(result.signingTime),
          signatureAlgorithm: result.signatureAlgorithm,
          contentBytes: result.contentBytes,
          contentSha256: result.contentSha256,
          outputBytes: result.outputBytes,
          outputSha256: result.outputSha256,
        });
      },
    );

  const verify = program
    .command("verify")
    .description("verify a signed file (CMS SignedData) and its signer's certificate path")
    .argument("<file>", 'the signed file (.p7s; "-" for stdin)')
    .option("--content <file>", "the signed content, for a detached signature");
  addTrustOptions(verify);
  verify
    .option("-o, --output <file>", 'write the signed content here after verification ("-" for stdout)')
    .option("-f, --force", "overwrite an existing output file")
    .addHelpText(
      "after",
      `
Examples:
  sealpost verify report.pdf.p7s --trust grca.cert.pem --crl gca.crl --crl grca.crl -o report.pdf
  sealpost verify report.pdf.p7s --content report.pdf --json   # trust anchors and CRLs from the config file`,
    )
    .action(
      async (
        file: string,
        opts: {
          content?: string;
          output?: string;
          force?: boolean;
          trust?: string[];
          intermediate?: string[];
          crl?: string[];
          revocation?: "require" | "prefer" | "off";
        },
      ) => {
        const { out } = rt;
        const config = await rt.config();
        const toStdout = isStdio(opts.output);
        if (toStdout && out.json) throw usageError("--json cannot be combined with -o - (both would use stdout).");
        if (opts.output && !toStdout) {
          await assertCanWrite(opts.output, opts.force === true);
          await guardTempFiles(opts.output);
        }
        const trust = await buildTrust(opts, config);
        if (!trust.policy) {
          throw usageError(
            "verify needs a trust anchor to check who signed the file.",
            'Pass --trust ROOT.pem (your root certificate), or set "trust" in the config file.',
          );
        }
        const fromStdin = isStdio(file);
        let size: number | undefined;
        if (!fromStdin) size = await inputSize(file);
        if (opts.content) await inputSize(opts.content);
        const progress = createProgress({ label: "verifying", total: size, quiet: out.quiet });
        const spooled = fromStdin ? await spoolStdin() : undefined;
        const temp = toStdout ? await privateTempDir() : undefined;
        let result: VerifyResult;
        try {
          const target = temp ? `${temp.dir}/content` : opts.output;
          result = await verifyFile(spooled?.path ?? file, {
            trust: trust.policy,
            intermediates: trust.intermediates,
            ...(opts.content ? { content: opts.content } : {}),
            ...(target ? { outPath: target } : {}),
            force: opts.force === true,
            onProgress: (n) => progress.update(n),
          });
          progress.done();
          if (temp && target) {
            out.useStdoutForData();
            await copyFileToStdout(target, out.stdout);
          }
        } finally {
          progress.done();
          await spooled?.cleanup();
          await temp?.cleanup();
        }
        for (const w of result.warnings) out.warn(w);
        const signer = signerJson(result.signer.cert);
        out.line(
          `Verified ${fromStdin ? "stdin" : file}${result.detached ? ` (detached, content ${opts.content})` : ""}`,
        );
        out.fields(
          [
            ["Signer", signer.commonName || signer.subject],
            ["Subject", signer.subject],
            ["Agency", signer.agency],
            ["Signing time", formatDate(result.signingTime)],
            ["Signature", `${result.signatureAlgorithm} (${result.digest})`],
            ["Content", `${formatBytes(result.contentBytes)}, SHA-256 ${result.contentSha256}`],
            ["Written to", opts.output === undefined ? undefined : toStdout ? "stdout" : opts.output],
            ["Checks", result.checks.join(", ")],
          ],
          "  ",
        );
        if (result.manifest) printManifest(out, result.manifest, "  ");
        printTrustResult(rt, result.trust, "  ");
        out.result("verify", {
          input: fromStdin ? "-" : file,
          content: opts.content ?? null,
          output: opts.output ?? null,
          detached: result.detached,
          signer,
          signingTime: formatDate(result.signingTime) ?? null,
          manifest: manifestJson(result.manifest),
          signatureAlgorithm: result.signatureAlgorithm,
          digest: result.digest,
          contentType: result.contentType,
          contentBytes: result.contentBytes,
          contentSha256: result.contentSha256,
          checks: result.checks,
          trust: trustResultJson(result.trust),
          warnings: result.warnings,
        });
      },
    );
}

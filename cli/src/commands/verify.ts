import { type VerifyResult, verifyFile } from "@sealpost/cms";
import type { Command } from "commander";
import { signerJson } from "../describe.js";
import { usageError } from "../errors.js";
import {
  assertCanWrite,
  copyFileToStdout,
  guardTempFiles,
  inputSize,
  isStdio,
  privateTempDir,
  spoolStdin,
} from "../files.js";
import { formatBytes, formatDate } from "../output.js";
import { createProgress } from "../progress.js";
import { buildTrust } from "../trust.js";
import { printTrustResult, trustResultJson } from "./cert.js";
import { addTrustOptions, type Runtime } from "./common.js";
import { manifestJson, printManifest } from "./manifest.js";

/** `sealpost verify FILE --trust ROOT [--content DETACHED] [-o OUT]`: a SignedData and its signer's path. */
export function registerVerifyCommand(program: Command, rt: Runtime): void {
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
          await guardTempFiles(opts.output, (w) => out.warn(w));
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
        const temp = toStdout ? await privateTempDir((w) => out.warn(w)) : undefined;
        let result: VerifyResult;
        try {
          const target = temp ? `${temp.dir}/content` : opts.output;
          // A detached signature without --content is a usage error, not a damaged file.
          const detachedWithoutContent = (e: unknown) =>
            (e as { details?: { reason?: unknown } }).details?.reason === "detached-without-content";
          result = await verifyFile(spooled?.path ?? file, {
            trust: trust.policy,
            intermediates: trust.intermediates,
            ...(opts.content ? { content: opts.content } : {}),
            ...(target ? { outPath: target } : {}),
            force: opts.force === true,
            onProgress: (n) => progress.update(n),
          }).catch((e: unknown) => {
            if (!opts.content && detachedWithoutContent(e)) {
              throw usageError(
                `${fromStdin ? "The signature on stdin" : file} is a detached signature: the signed content is not in it.`,
                `Give the signed file with --content FILE, e.g. sealpost verify ${fromStdin ? "-" : file} --content ${!fromStdin && file.endsWith(".p7s") ? file.slice(0, -4) : "CONTENT"}.`,
              );
            }
            throw e;
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
            [
              "Signing time",
              result.signingTime
                ? `${formatDate(result.signingTime)} (as the signer wrote it; the signer was checked now)`
                : undefined,
            ],
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

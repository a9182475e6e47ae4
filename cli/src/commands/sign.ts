import { basename, resolve } from "node:path";
import { type SignResult, signFile } from "@sealpost/cms";
import { pickKey } from "@sealpost/pki";
import { type Command, Option } from "commander";
import { signerJson } from "../describe.js";
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
import { buildTrust, checkOwnSigningCert, noTrustAnchor } from "../trust.js";
import { addKeyOptions, addOutputOptions, addTrustOptions, keyContext, type Runtime } from "./common.js";

/** `sealpost sign FILE --key KEYSTORE [--detached]`: CMS SignedData only, no encryption. */
export function registerSignCommand(program: Command, rt: Runtime): void {
  const sign = program
    .command("sign")
    .description("sign a file without encrypting it (CMS SignedData)")
    .argument("<file>", 'the file to sign ("-" for stdin, then -o is required)');
  addKeyOptions(sign);
  addOutputOptions(sign, "signature file (default: FILE.p7s)");
  addTrustOptions(sign);
  sign
    .option("--detached", "write only the signature; the content stays in FILE")
    .option("--pss", "sign with RSA-PSS instead of RSA PKCS#1 v1.5")
    .addOption(
      new Option("--digest <alg>", "signature digest").choices(["sha256", "sha384", "sha512"]).default("sha256"),
    )
    .addHelpText(
      "after",
      `
Before anything is written, your signing certificate is validated for signing, now, against --trust/--crl (or the
config's trust anchors and CRLs): an expired, not yet valid, revoked or held certificate is refused.

Examples:
  sealpost sign report.pdf --key soc-chen.p12 --trust grca.cert.pem --crl gca.crl --crl grca.crl
  sealpost sign report.pdf --key soc-chen.p12 --detached      # report.pdf.p7s: the signature only (trust from the config)`,
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
          trust?: string[];
          intermediate?: string[];
          crl?: string[];
          revocation?: "require" | "prefer" | "off";
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
          await guardTempFiles(output, (w) => out.warn(w));
        }
        const setup = await buildTrust(opts, config);
        if (!setup.policy) {
          throw noTrustAnchor(
            "sign",
            "your signing certificate is checked against your roots (validity, revocation) before anything is signed.",
          );
        }
        const { keystore } = await loadKeys(opts, keyContext(rt, config));
        const signer = pickKey(keystore, "sign");
        const own = await checkOwnSigningCert(signer, { policy: setup.policy, intermediates: setup.intermediates });
        for (const w of own.warnings) out.warn(`your signing certificate: ${w}`);
        const progress = createProgress({ label: "signing", total: size, quiet: out.quiet });
        const spooled = fromStdin ? await spoolStdin() : undefined;
        const temp = toStdout ? await privateTempDir((w) => out.warn(w)) : undefined;
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
}

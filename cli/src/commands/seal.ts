import { createReadStream } from "node:fs";
import { basename, resolve } from "node:path";
import { type SealOptions, type SealResult, seal, sealFile } from "@sealpost/cms";
import { type CertInfo, PkiError, pickKey, readCertificates, type TrustPolicy } from "@sealpost/pki";
import type { TransferManifest } from "@sealpost/protocol";
import { type Command, Option } from "commander";
import { certOneLine, signerJson } from "../describe.js";
import { usageError } from "../errors.js";
import { assertCanWrite, guardTempFiles, inputSize, isStdio, stdoutSink, writeAtomically } from "../files.js";
import { loadKeys } from "../keys.js";
import { formatBytes, formatDate } from "../output.js";
import { createProgress } from "../progress.js";
import { buildTrust, checkOwnSigningCert, noTrustAnchor } from "../trust.js";
import {
  addKeyOptions,
  addOutputOptions,
  addTrustOptions,
  collect,
  keyContext,
  positiveInt,
  type Runtime,
} from "./common.js";
import { manifestJson, printManifest } from "./manifest.js";
import { readSealProfile, type SealProfile } from "./seal-profile.js";

interface SealCliOptions {
  to?: string[];
  profile?: string;
  key?: string;
  cert?: string;
  pinFile?: string;
  output?: string;
  force?: boolean;
  cipher: "aes-256-gcm" | "aes-256-cbc";
  rsaPadding: "oaep" | "pkcs1";
  pss?: boolean;
  digest: "sha256" | "sha384" | "sha512";
  recipientId: "issuer-serial" | "ski";
  caseId?: string;
  records?: number;
  uploadNo?: string;
  senderAgency?: string;
  receivingAgency?: string;
  fileName?: string;
  trust?: string[];
  intermediate?: string[];
  crl?: string[];
  revocation?: "require" | "prefer" | "off";
}

/** `sealpost seal FILE --to CERT ... --key KEYSTORE`. */
export function registerSealCommand(program: Command, rt: Runtime): void {
  const cmd = program
    .command("seal")
    .description("sign a file with your signing key and encrypt it to each recipient's encryption certificate")
    .argument("<file>", 'the file to seal ("-" for stdin, then -o is required)')
    .option(
      "--to <cert>",
      "recipient's encryption certificate (PEM or DER; a bundle adds each non-CA certificate); repeatable",
      collect,
    )
    .option(
      "--profile <settings.json>",
      "seal to the recipients of a case's transfer settings file (傳遞設定檔, from the web console); the case fields go into the manifest. Instead of --to",
    );
  addKeyOptions(cmd);
  addOutputOptions(cmd, "sealed output file (default: FILE.p7m)");
  cmd
    .addOption(
      new Option("--cipher <name>", "content encryption")
        .choices(["aes-256-gcm", "aes-256-cbc"])
        .default("aes-256-gcm"),
    )
    .addOption(
      new Option("--rsa-padding <padding>", "RSA key transport padding").choices(["oaep", "pkcs1"]).default("oaep"),
    )
    .option("--pss", "sign with RSA-PSS instead of RSA PKCS#1 v1.5")
    .addOption(
      new Option("--digest <alg>", "signature digest").choices(["sha256", "sha384", "sha512"]).default("sha256"),
    )
    .addOption(
      new Option("--recipient-id <kind>", "how recipients are identified")
        .choices(["issuer-serial", "ski"])
        .default("issuer-serial"),
    )
    .option("--case-id <id>", "manifest: transfer case id")
    .option("--records <n>", "manifest: number of records in the file", positiveInt)
    .option("--upload-no <no>", "manifest: upload number")
    .option("--sender-agency <name>", "manifest: sending agency")
    .option("--receiving-agency <name>", "manifest: receiving agency")
    .option("--file-name <name>", "manifest: file name (default: FILE's name; none for stdin)");
  addTrustOptions(cmd).addHelpText(
    "after",
    `
Before anything is written, every recipient certificate is validated for encryption, and your own signing
certificate for signing, now, against --trust/--intermediate/--crl (or the config's trust anchors and CRLs): a
revoked, held, expired or untrusted certificate is refused. A trust anchor is required. The manifest (file name,
size, case fields) is signed with the content.

--profile SETTINGS.json takes the recipients from the case's transfer settings file (the one the web console
downloads; every certificate must match the SHA-256 the file names) and the case id, agencies, record count and
upload number from its case; they are checked like --to certificates. The sealed file is then what the case's
upload expects (upload it in the web console, or use \`sealpost send FILE --case ID\` to do both at once).

Examples:
  sealpost seal batch.csv --profile C20261206-0001.settings.json --key soc-chen.p12 -o batch.p7m
  sealpost seal batch.csv --to tax-wang-enc.pem --to tax-lee-enc.pem --key soc-chen.p12 \\
      --case-id C-2026-0001 --records 100 --upload-no U-1 --trust grca.cert.pem --crl gca.crl --crl grca.crl
  cat batch.csv | SEALPOST_PIN=... sealpost seal - --to tax-wang-enc.pem --key soc-chen.p12 -o batch.p7m --json`,
  );
  cmd.action(async (file: string, opts: SealCliOptions) => sealAction(rt, file, opts));
}

async function sealAction(rt: Runtime, file: string, opts: SealCliOptions): Promise<void> {
  const { out } = rt;
  const config = await rt.config();
  const fromStdin = isStdio(file);
  const output = opts.output ?? (fromStdin ? undefined : `${file}.p7m`);
  if (output === undefined) throw usageError("Sealing from stdin needs -o FILE (or -o - for stdout).");
  const toStdout = isStdio(output);
  if (toStdout && out.json) throw usageError("--json cannot be combined with -o - (both would use stdout).");
  if (!fromStdin && !toStdout && resolve(file) === resolve(output)) {
    throw usageError("The output would overwrite the input.", "Choose another name with -o.");
  }
  if (opts.profile !== undefined && opts.to !== undefined) {
    throw usageError(
      "Give either --profile or --to, not both.",
      "--profile seals to exactly the recipients of the case's settings file; the server refuses any other set.",
    );
  }
  if (opts.profile === undefined && opts.to === undefined) {
    throw usageError("No recipients.", "Give --to CERT for each recipient, or --profile SETTINGS.json for a case.");
  }
  const size = fromStdin ? undefined : await inputSize(file);
  if (!toStdout) await assertCanWrite(output, opts.force === true);
  if (!toStdout) await guardTempFiles(output, (w) => out.warn(w));

  const setup = await buildTrust(opts, config);
  if (!setup.policy) {
    throw noTrustAnchor(
      "seal",
      "each recipient's certificate, and your own signing certificate, are checked against your roots (path, validity, key usage, revocation) before anything is sealed.",
    );
  }
  const trust = { policy: setup.policy, intermediates: setup.intermediates };
  const profile = opts.profile !== undefined ? await readSealProfile(opts.profile) : undefined;
  const recipients = profile ? profileRecipients(profile, opts.profile!) : await loadRecipients(opts.to ?? []);
  const { keystore } = await loadKeys(opts, keyContext(rt, config));
  const signer = pickKey(keystore, "sign");
  for (const w of (await checkOwnSigningCert(signer, trust)).warnings) out.warn(`your signing certificate: ${w}`);
  // The keystore's own chain (usually the same government CAs) may help build the recipients' paths.
  await checkRecipients(rt, recipients, trust, signer.chain);

  const manifest: TransferManifest = { ...profile?.manifest };
  if (profile) assertSameCase(profile.manifest, opts);
  if (opts.caseId) manifest.caseId = opts.caseId;
  if (opts.senderAgency) manifest.senderAgency = opts.senderAgency;
  if (opts.receivingAgency) manifest.receivingAgency = opts.receivingAgency;
  const fileName = opts.fileName ?? (fromStdin ? undefined : basename(file));
  if (fileName) manifest.fileName = fileName;
  if (size !== undefined) manifest.byteSize = size;
  if (opts.records !== undefined) manifest.recordCount = opts.records;
  if (opts.uploadNo) manifest.uploadNo = opts.uploadNo;

  const progress = createProgress({ label: "sealing", total: size, quiet: out.quiet });
  const options: SealOptions = {
    recipients: recipients.map((r) => r.cert),
    signer,
    cipher: opts.cipher,
    keyTransport: opts.rsaPadding,
    recipientIdentifier: opts.recipientId === "ski" ? "subjectKeyIdentifier" : "issuerAndSerialNumber",
    signatureScheme: opts.pss ? "pss" : "pkcs1",
    digest: opts.digest,
    ...(Object.keys(manifest).length > 0 ? { manifest } : {}),
    onProgress: (n) => progress.update(n),
  };
  let result: SealResult;
  try {
    if (toStdout) {
      out.useStdoutForData();
      const sink = stdoutSink(out.stdout);
      const input = fromStdin ? process.stdin : createReadStream(file);
      result = await seal(input, sink.stream, options);
      await sink.done;
    } else if (fromStdin) {
      result = await writeAtomically(output, opts.force === true, (ws) => seal(process.stdin, ws, options));
    } else {
      result = await sealFile(file, output, { ...options, force: opts.force === true });
    }
  } finally {
    progress.done();
  }

  out.line(`Sealed ${fromStdin ? "stdin" : file} -> ${toStdout ? "stdout" : output}`);
  out.fields(
    [
      ["Signed by", `${signer.cert.commonName || signer.cert.subject} (${signer.cert.subject})`],
      ["Signing time", formatDate(result.signingTime)],
    ],
    "  ",
  );
  out.line(`  Recipients (${result.recipients.length}):`);
  for (const r of result.recipients) out.line(`    ${certOneLine(r)}`);
  out.fields(
    [
      ["Cipher", `${result.cipher}, key transport ${result.keyTransport}, signature ${result.signatureAlgorithm}`],
      ["Content", `${formatBytes(result.contentBytes)}, SHA-256 ${result.contentSha256}`],
      ["Output", `${formatBytes(result.outputBytes)}, SHA-256 ${result.outputSha256}`],
    ],
    "  ",
  );
  if (Object.keys(manifest).length > 0) printManifest(out, manifest, "  ");
  out.result("seal", {
    input: fromStdin ? "-" : file,
    output,
    outputBytes: result.outputBytes,
    outputSha256: result.outputSha256,
    contentBytes: result.contentBytes,
    contentSha256: result.contentSha256,
    cipher: result.cipher,
    keyTransport: result.keyTransport,
    signatureAlgorithm: result.signatureAlgorithm,
    signingTime: formatDate(result.signingTime),
    signer: signerJson(signer.cert),
    recipients: result.recipients.map((r) => ({
      commonName: r.commonName,
      subject: r.subject,
      issuer: r.issuer,
      serialHex: r.serialHex,
      subjectKeyIdHex: r.subjectKeyIdHex ?? null,
    })),
    recipientValidation: "trust-path",
    manifest: manifestJson(manifest),
  });
}

interface Recipient {
  cert: CertInfo;
  file: string;
  /** CA certificates that came in the same file (path building help). */
  extra: CertInfo[];
}

/** The settings file's recipients as --to recipients (their chains help build the paths). */
function profileRecipients(profile: SealProfile, file: string): Recipient[] {
  return profile.recipients.map((r) => ({ cert: r.cert, file: `${r.label}, ${file}`, extra: r.chain }));
}

/**
 * With --profile, a case field also given as an option must equal the settings file's (the receiver's CLI refuses a
 * file whose signed manifest does not match its case).
 */
function assertSameCase(fromProfile: TransferManifest, opts: SealCliOptions): void {
  const given: [string, string, unknown, unknown][] = [
    ["--case-id", "caseId", opts.caseId, fromProfile.caseId],
    ["--sender-agency", "senderAgency", opts.senderAgency, fromProfile.senderAgency],
    ["--receiving-agency", "receivingAgency", opts.receivingAgency, fromProfile.receivingAgency],
    ["--records", "recordCount", opts.records, fromProfile.recordCount],
    ["--upload-no", "uploadNo", opts.uploadNo, fromProfile.uploadNo],
  ];
  for (const [option, field, value, inFile] of given) {
    if (value !== undefined && inFile !== undefined && value !== inFile) {
      throw usageError(
        `${option} ${String(value)} differs from the settings file's ${field} ${String(inFile)}.`,
        "Leave the option out: --profile takes the case's fields from the settings file.",
      );
    }
  }
}

async function loadRecipients(files: string[]): Promise<Recipient[]> {
  const seen = new Set<string>();
  const out: Recipient[] = [];
  for (const file of files) {
    const certs = await readCertificates(file);
    const ees = certs.filter((c) => !c.isCA);
    const cas = certs.filter((c) => c.isCA);
    if (ees.length === 0) {
      throw usageError(
        `${file} holds no end-entity certificate to encrypt to.`,
        "Give each recipient's encryption certificate with --to (not a CA certificate).",
      );
    }
    for (const cert of ees) {
      if (seen.has(cert.sha256)) continue;
      seen.add(cert.sha256);
      out.push({ cert, file, extra: cas });
    }
  }
  return out;
}

/** Validates every recipient for encryption (full path, now) before anything is written. */
async function checkRecipients(
  rt: Runtime,
  recipients: Recipient[],
  trust: { policy: TrustPolicy; intermediates: CertInfo[] },
  moreIntermediates: CertInfo[],
): Promise<void> {
  for (const r of recipients) {
    const who = `recipient ${r.cert.commonName || r.cert.subject} (${r.file})`;
    try {
      const result = await trust.policy.validate(r.cert, {
        purpose: "encrypt",
        intermediates: [...r.extra, ...trust.intermediates, ...moreIntermediates],
      });
      for (const w of result.warnings) rt.out.warn(`${who}: ${w}`);
    } catch (e) {
      throw withContext(e, who);
    }
  }
}

/** The same error (same class and code) with the recipient named in front of its message. */
function withContext(e: unknown, who: string): unknown {
  if (!(e instanceof PkiError)) return e;
  return new PkiError(e.code, `Cannot encrypt to ${who}: ${e.message}`, {
    cause: e,
    hint: e.hint ?? "Ask the recipient's agency for their current encryption certificate.",
    ...(e.details ? { details: e.details } : {}),
  });
}

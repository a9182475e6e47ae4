import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { inspect } from "@sealpost/cms";
import type { Command } from "commander";
import { certOneLine, summarizeCert } from "../describe.js";
import { inputSize, isStdio } from "../files.js";
import { formatBytes, formatDate } from "../output.js";
import type { Runtime } from "./common.js";

/** `sealpost inspect FILE`: the structure of a sealed or signed file, without any key. */
export function registerInspectCommand(program: Command, rt: Runtime): void {
  program
    .command("inspect")
    .description("show a sealed or signed file's structure, algorithms, recipients and sizes (no key needed)")
    .argument("<file>", 'sealed (.p7m) or signed (.p7s) file ("-" for stdin)')
    .addHelpText(
      "after",
      `
Examples:
  sealpost inspect batch.csv.p7m
  sealpost inspect batch.csv.p7m --json | jq '.recipients[].serialHex'`,
    )
    .action(async (file: string) => {
      const { out } = rt;
      let input: Readable;
      if (isStdio(file)) input = process.stdin;
      else {
        await inputSize(file);
        input = createReadStream(file);
      }
      const r = await inspect(input);
      out.line(`${file}: ${r.contentType} (${r.encoding}), ${formatBytes(r.totalBytes)}`);
      out.fields(
        [
          ["Cipher", r.cipher],
          [
            "Encrypted content",
            r.encryptedContentBytes === undefined ? undefined : formatBytes(r.encryptedContentBytes),
          ],
          ["Content type", r.eContentType],
          ["Content", r.contentBytes === undefined ? undefined : formatBytes(r.contentBytes)],
          ["Detached", r.detached === undefined ? undefined : r.detached ? "yes" : "no"],
        ],
        "  ",
      );
      if (r.recipients.length > 0) {
        out.line(`  Recipients (${r.recipients.length}):`);
        for (const ri of r.recipients) {
          const id = ri.serialHex
            ? `issuer ${ri.issuer ?? "?"}, serial ${ri.serialHex}`
            : ri.subjectKeyIdHex
              ? `key id ${ri.subjectKeyIdHex}`
              : "(no identifier)";
          const match = r.certificates.find(
            (c) =>
              (ri.serialHex && c.serialHex === ri.serialHex && c.issuer === ri.issuer) ||
              (ri.subjectKeyIdHex && c.subjectKeyIdHex === ri.subjectKeyIdHex),
          );
          out.line(
            `    ${ri.type}${ri.keyTransport ? ` ${ri.keyTransport}` : ""}: ${id}${match ? ` (${match.commonName})` : ""}`,
          );
        }
      }
      const signers = r.signers ?? (r.signer ? [r.signer] : []);
      for (const s of signers) {
        out.line("  Signer:");
        out.fields(
          [
            ["Name", s.commonName],
            ["Subject", s.subject],
            ["Issuer", s.issuer],
            ["Serial", s.serialHex],
            ["Key id", s.subjectKeyIdHex],
            ["Signature", s.signatureAlgorithm],
            ["Digest", s.digest],
            ["Signing time", formatDate(s.signingTime)],
          ],
          "    ",
        );
      }
      if (r.contentType !== "signedData" && r.recipients.length > 0) {
        out.line("  Signer: not visible (it is inside the encrypted content)");
      }
      if (r.certificates.length > 0) {
        out.line(`  Certificates (${r.certificates.length}):`);
        for (const c of r.certificates) out.line(`    ${certOneLine(c)}`);
      }
      out.result("inspect", {
        file,
        contentType: r.contentType,
        encoding: r.encoding,
        totalBytes: r.totalBytes,
        cipher: r.cipher ?? null,
        encryptedContentBytes: r.encryptedContentBytes ?? null,
        eContentType: r.eContentType ?? null,
        contentBytes: r.contentBytes ?? null,
        detached: r.detached ?? null,
        recipients: r.recipients.map((ri) => ({
          type: ri.type,
          keyTransport: ri.keyTransport ?? null,
          issuer: ri.issuer ?? null,
          serialHex: ri.serialHex ?? null,
          subjectKeyIdHex: ri.subjectKeyIdHex ?? null,
        })),
        signers: signers.map((s) => ({
          commonName: s.commonName ?? null,
          subject: s.subject ?? null,
          issuer: s.issuer ?? null,
          serialHex: s.serialHex ?? null,
          subjectKeyIdHex: s.subjectKeyIdHex ?? null,
          signatureAlgorithm: s.signatureAlgorithm ?? null,
          digest: s.digest ?? null,
          signingTime: formatDate(s.signingTime) ?? null,
        })),
        certificates: r.certificates.map(summarizeCert),
      });
    });
}

import { extname } from "node:path";
import { type CertInfo, isPkcs11Uri, type KeyPurpose, readCertificates, type TrustResult } from "@sealpost/pki";
import { type Command, Option } from "commander";
import { usageError } from "../errors.js";
import { readHead } from "../files.js";
import { loadKeys, looksLikePfx } from "../keys.js";
import { formatDate } from "../output.js";
import { type CertSummary, printCert, summarizeCert } from "../describe.js";
import { buildTrust } from "../trust.js";
import { addTrustOptions, isoTime, keyContext, type Runtime } from "./common.js";

/** `sealpost cert show` and `sealpost cert check`. */
export function registerCertCommands(program: Command, rt: Runtime): void {
  const cert = program
    .command("cert")
    .description("show or check certificates")
    .addHelpText(
      "after",
      `
Examples:
  sealpost cert show tax-wang-enc.cert.pem
  sealpost cert check tax-wang-enc.cert.pem --trust grca.cert.pem --crl gca.crl --crl grca.crl --usage encrypt`,
    );

  cert
    .command("show")
    .description("show a certificate (PEM or DER, or a bundle) or the certificates of a keystore")
    .argument("<file>", "certificate file, PEM bundle, or keystore (.p12/.pfx, PEM key with --cert)")
    .option("--cert <file>", "certificate (or bundle) of a PEM private key")
    .option(
      "--pin-file <file>",
      "PIN of a keystore from the first line of this file (else SEALPOST_PIN, else a prompt)",
    )
    .addHelpText(
      "after",
      `
Examples:
  sealpost cert show alice-enc.cert.pem
  SEALPOST_PIN=... sealpost cert show alice.p12 --json`,
    )
    .action(async (file: string, opts: { cert?: string; pinFile?: string }) => {
      const shown = await certificatesOf(file, opts, rt);
      const summaries = shown.certs.map((c) => ({ ...summarizeCert(c.cert), hasPrivateKey: c.hasPrivateKey }));
      const { out } = rt;
      out.line(
        `${file}: ${shown.kind === "keystore" ? "keystore" : "certificate file"}, ${summaries.length} certificate(s)`,
      );
      summaries.forEach((s, i) => {
        out.line();
        out.line(`Certificate ${i + 1}${s.hasPrivateKey ? " (with private key)" : ""}:`);
        printCert(out, s);
      });
      out.result("cert show", { file, kind: shown.kind, certificates: summaries });
    });

  addTrustOptions(
    cert
      .command("check")
      .description("validate a certificate: path to a trust anchor, validity, key usage, revocation")
      .argument("<cert>", "the certificate to check (a bundle: the first is checked, the rest help build the path)"),
  )
    .option("--at <iso-time>", "validate at this time instead of now", isoTime)
    .addOption(new Option("--usage <usage>", "required use of the certificate").choices(["sign", "encrypt"]))
    .addHelpText(
      "after",
      `
Examples:
  sealpost cert check bob-enc.cert.pem --trust grca.cert.pem --intermediate gca.cert.pem --crl gca.crl --crl grca.crl --usage encrypt
  sealpost cert check alice-sign.cert.pem --trust grca.cert.pem --revocation off --at 2026-01-31T00:00:00Z --json`,
    )
    .action(
      async (
        file: string,
        opts: {
          trust?: string[];
          intermediate?: string[];
          crl?: string[];
          revocation?: "require" | "prefer" | "off";
          at?: Date;
          usage?: KeyPurpose;
        },
      ) => {
        const config = await rt.config();
        const certs = await readCertificates(file);
        const target = certs[0];
        if (!target) throw usageError(`${file} holds no certificate.`);
        const trust = await buildTrust(opts, config, opts.at);
        if (!trust.policy) {
          throw usageError(
            "cert check needs a trust anchor.",
            'Pass --trust ROOT.pem, or set "trust" in the config file.',
          );
        }
        const result = await trust.policy.validate(target, {
          intermediates: [...certs.slice(1), ...trust.intermediates],
          ...(opts.at ? { time: opts.at } : {}),
          ...(opts.usage ? { purpose: opts.usage } : {}),
        });
        const at = opts.at ?? new Date();
        const { out } = rt;
        out.line(
          `OK: ${target.commonName || target.subject} is trusted${opts.usage ? ` for ${opts.usage === "sign" ? "signing" : "encryption"}` : ""} at ${formatDate(at)}`,
        );
        printTrustResult(rt, result);
        for (const w of result.warnings) out.warn(w);
        out.result("cert check", {
          file,
          valid: true,
          at: formatDate(at),
          usage: opts.usage ?? null,
          certificate: summarizeCert(target),
          ...trustResultJson(result),
        });
      },
    );
}

/** The JSON fields of a TrustResult (part of the --json contract). */
export function trustResultJson(result: TrustResult): {
  path: Array<Pick<CertSummary, "commonName" | "subject" | "serialHex" | "sha256">>;
  checks: string[];
  revocation: { source: string; detail: string; thisUpdate: string | null } | null;
} {
  return {
    path: result.path.map((c) => ({
      commonName: c.commonName,
      subject: c.subject,
      serialHex: c.serialHex,
      sha256: c.sha256,
    })),
    checks: result.checks,
    revocation: result.revocation
      ? {
          source: result.revocation.source,
          detail: result.revocation.detail,
          thisUpdate: formatDate(result.revocation.thisUpdate) ?? null,
        }
      : null,
  };
}

/** Prints the path, checks and revocation source of a TrustResult. */
export function printTrustResult(rt: Runtime, result: TrustResult, indent = ""): void {
  const { out } = rt;
  out.line(`${indent}Trust path:`);
  result.path.forEach((c, i) => {
    out.line(`${indent}  ${i === 0 ? "" : "← "}${c.subject} (serial ${c.serialHex})`);
  });
  out.line(`${indent}Path checks: ${result.checks.join(", ")}`);
  const r = result.revocation;
  const when = r?.thisUpdate && !r.detail.includes("issued") ? `, issued ${formatDate(r.thisUpdate)}` : "";
  out.line(`${indent}Revocation: ${r ? `${r.source}${r.detail ? ` (${r.detail})` : ""}${when}` : "not checked"}`);
}

interface ShownCert {
  cert: CertInfo;
  hasPrivateKey: boolean;
}

/** The certificates of a certificate file or a keystore. */
async function certificatesOf(
  file: string,
  opts: { cert?: string; pinFile?: string },
  rt: Runtime,
): Promise<{ kind: "certificates" | "keystore"; certs: ShownCert[] }> {
  const token = isPkcs11Uri(file);
  const head = token ? Buffer.alloc(0) : await readHead(file, `Cannot read ${file}`);
  const text = head.toString("latin1");
  const isPem = text.includes("-----BEGIN");
  const isKeystore =
    token ||
    (isPem
      ? text.includes("PRIVATE KEY-----")
      : [".p12", ".pfx"].includes(extname(file).toLowerCase()) || looksLikePfx(head));
  if (!isKeystore) {
    return {
      kind: "certificates",
      certs: (await readCertificates(file)).map((cert) => ({ cert, hasPrivateKey: false })),
    };
  }
  const config = await rt.config();
  const { keystore } = await loadKeys({ key: file, cert: opts.cert, pinFile: opts.pinFile }, keyContext(rt, config));
  const seen = new Set<string>();
  const certs: ShownCert[] = [];
  for (const e of keystore.entries) {
    if (!seen.has(e.cert.sha256)) certs.push({ cert: e.cert, hasPrivateKey: true });
    seen.add(e.cert.sha256);
  }
  for (const e of keystore.entries) {
    for (const c of e.chain) {
      if (!seen.has(c.sha256)) certs.push({ cert: c, hasPrivateKey: false });
      seen.add(c.sha256);
    }
  }
  return { kind: "keystore", certs };
}

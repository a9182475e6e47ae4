import { readFile } from "node:fs/promises";
import {
  type CertInfo,
  createTrustPolicy,
  decodePem,
  type KeyEntry,
  looksLikePem,
  PkiError,
  readCertificates,
  type TrustPolicy,
  type TrustResult,
} from "@sealpost/pki";
import type { CliConfig } from "./config.js";
import { type CliError, usageError } from "./errors.js";
import { ioError } from "./files.js";

/**
 * Builds the trust policy from `--trust`, `--intermediate`, `--crl`, `--revocation` and the config defaults. A list
 * given on the command line replaces the config's list (it does not add to it). Revocation defaults to "require"
 * (DESIGN: nothing is released before the signer's revocation status checked out): every certificate of the path
 * needs a current CRL from --crl, crls, crlDir or (with fetchCrls) its distribution point; "prefer" only warns.
 */
export interface TrustArgs {
  trust?: string[] | undefined;
  intermediate?: string[] | undefined;
  crl?: string[] | undefined;
  revocation?: "require" | "prefer" | "off" | undefined;
}

export interface TrustSetup {
  /** undefined when no trust anchor is given or configured. */
  policy: TrustPolicy | undefined;
  anchors: CertInfo[];
  intermediates: CertInfo[];
  crlFiles: string[];
  crlDir: string | undefined;
  revocation: "require" | "prefer" | "off";
}

export async function buildTrust(args: TrustArgs, config: CliConfig, at?: Date): Promise<TrustSetup> {
  const anchorFiles = args.trust?.length ? args.trust : config.trust;
  const intermediateFiles = args.intermediate?.length ? args.intermediate : config.intermediates;
  const crlFiles = args.crl?.length ? args.crl : config.crls;
  const crlDir = config.crlDir;
  const anchors = (await Promise.all(anchorFiles.map((f) => readCertificates(f)))).flat();
  const intermediates = (await Promise.all(intermediateFiles.map((f) => readCertificates(f)))).flat();
  const crls = (await Promise.all(crlFiles.map((f) => readCrls(f)))).flat();
  const revocation = args.revocation ?? config.revocation ?? "require";
  const policy =
    anchors.length === 0
      ? undefined
      : createTrustPolicy({
          anchors,
          intermediates,
          crls,
          ...(crlDir ? { crlDir } : {}),
          revocation,
          fetchCrls: config.fetchCrls,
          ...(at ? { now: () => at } : {}),
        });
  return { policy, anchors, intermediates, crlFiles, crlDir, revocation };
}

/** The DER CRLs of a file (DER, or PEM with one or more "X509 CRL" blocks). */
export async function readCrls(path: string): Promise<Uint8Array[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw ioError(`Cannot read the CRL file ${path}`, e);
  }
  if (!looksLikePem(bytes)) return [bytes];
  return decodePem(Buffer.from(bytes).toString("utf8"), ["X509 CRL"]).map((b) => b.der);
}

/** The usage error (exit 2, with a hint) of a command that needs a trust anchor and has none. */
export function noTrustAnchor(command: string, why: string): CliError {
  return usageError(
    `${command} needs a trust anchor: ${why}`,
    'Pass --trust ROOT.pem (your root certificate, e.g. the GRCA; and --intermediate, --crl), or set "trust" in the config file.',
  );
}

/**
 * The user's own signing certificate must be one that readers will accept now, before anything is signed: it is
 * validated with the trust policy for signing, now (path to the anchors, validity, key usage, and revocation as
 * --revocation says: REVOKED, ON_HOLD, REVOCATION_UNAVAILABLE under "require"). The keystore's chain helps build the
 * path. Failures keep their PkiError code, with a message that says it is the user's own certificate.
 */
export async function checkOwnSigningCert(
  signer: KeyEntry,
  trust: { policy: TrustPolicy; intermediates: CertInfo[] },
): Promise<TrustResult> {
  try {
    return await trust.policy.validate(signer.cert, {
      purpose: "sign",
      intermediates: [...signer.chain, ...trust.intermediates],
    });
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    const who = `${signer.cert.commonName || signer.cert.subject}, serial ${signer.cert.serialHex}`;
    throw new PkiError(e.code, `Your signing certificate (${who}) cannot be used now: ${e.message}`, {
      cause: e,
      hint:
        e.hint ??
        "Nothing was signed. Use your current signing certificate, or ask your certificate administrator about this one.",
      ...(e.details ? { details: e.details } : {}),
    });
  }
}

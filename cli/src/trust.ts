import { readFile } from "node:fs/promises";
import {
  type CertInfo,
  createTrustPolicy,
  decodePem,
  looksLikePem,
  readCertificates,
  type TrustPolicy,
} from "@sealpost/pki";
import type { CliConfig } from "./config.js";
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

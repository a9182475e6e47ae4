import { PkiError } from "../errors.js";
import type { TrustResult } from "../types.js";
import { type CertInput, derOf } from "./build.js";
import { CrlStore } from "./crl-store.js";
import { type RevocationMode, checkRevocation } from "./engine.js";
import type { PolicyInputs } from "./policy-tree.js";
import type { AlgorithmPolicy } from "./signature.js";
import { type PathCheckOptions, checkPath } from "./validate.js";
import { type ParsedCert, parseCert } from "./x509.js";

export interface ValidatePathOptions extends AlgorithmPolicy, PolicyInputs {
  /** The trust anchor, when it is not the last element of the path. */
  anchor?: CertInput;
  /** Validation time. Default: now. */
  time?: Date;
  /** Current time for CRL freshness. Default: `time`. */
  now?: Date;
  /** CRLs (DER or PEM bytes). */
  crls?: Uint8Array[];
  /** Other certificates that may have signed CRLs. */
  certificates?: CertInput[];
  /** Default "require" when crls are given, "off" otherwise. */
  revocation?: RevocationMode;
  purpose?: PathCheckOptions["purpose"];
  requiredKeyUsage?: string[];
  acceptableEkus?: string[];
  strictProfile?: boolean;
  maxChainDepth?: number;
}

export interface ValidatePathResult {
  userConstrainedPolicySet: string[];
  checks: string[];
  warnings: string[];
  revocation: TrustResult["revocation"];
}

function parse(c: CertInput, i: number): ParsedCert {
  try {
    return parseCert(derOf(c));
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError("MALFORMED", `Certificate #${i + 1} of the path is not readable (${(err as Error).message}).`);
  }
}

/**
 * Validates exactly the given path (end entity first; the anchor last, or in options.anchor) with RFC 5280 6.1 and,
 * when CRLs are given, 6.3 revocation. No path building: a wrong order or a missing certificate fails.
 */
export async function validatePath(path: CertInput[], options: ValidatePathOptions = {}): Promise<ValidatePathResult> {
  const all = path.map(parse);
  const anchor = options.anchor ? parse(options.anchor, path.length) : all.pop();
  if (!anchor || all.length === 0)
    throw new PkiError("UNTRUSTED", "The path needs an end-entity certificate and a trust anchor.");
  const time = options.time ?? new Date();
  const opts: PathCheckOptions = { ...options, time };
  const res = checkPath(anchor, [...all].reverse(), opts);
  const mode = options.revocation ?? (options.crls ? "require" : "off");
  const store = new CrlStore(options.crls, undefined);
  const pool = [...all, ...(options.certificates ?? []).map((c, i) => parse(c, path.length + 1 + i))];
  const rev = await checkRevocation(
    [...all, anchor],
    anchor,
    [anchor],
    pool,
    { ...opts, revocation: mode, now: options.now ?? time },
    { localCrls: () => store.all() },
    [],
  );
  return {
    userConstrainedPolicySet: res.userConstrainedPolicySet,
    checks: [...res.checks, ...rev.checks],
    warnings: [...res.warnings, ...rev.warnings],
    revocation: rev.revocation,
  };
}

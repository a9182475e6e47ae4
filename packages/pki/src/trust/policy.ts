import { PkiError } from "../errors.js";
import type { CertInfo, TrustPolicy, TrustResult, ValidateOptions } from "../types.js";
import { type CertInput, derOf } from "./build.js";
import { CrlStore } from "./crl-store.js";
import { type EngineOptions, type RevocationMode, type RevocationSources, validateParsed } from "./engine.js";
import type { PolicyInputs } from "./policy-tree.js";
import type { AlgorithmPolicy } from "./signature.js";
import type { PathCheckOptions } from "./validate.js";
import { type ParsedCert, parseCert } from "./x509.js";
import { CrlFetcher } from "./crl-fetch.js";
import { CRL_FETCH_LIMITS } from "./crl-info.js";
import { OcspClient } from "./ocsp.js";

/** Options of createTrustPolicy. Every field but `anchors` is optional; defaults are stated per field. */
export interface TrustPolicyOptions extends AlgorithmPolicy, PolicyInputs {
  /** The trust anchors (e.g. the GRCA root). Only paths ending at one of them are trusted. */
  anchors: CertInfo[];
  /** Intermediate CA certificates available for path building (more may come per validate call). */
  intermediates?: CertInfo[];
  /** CRLs given as bytes (DER or PEM, one or more per item). */
  crls?: Uint8Array[];
  /** A directory of CRL files (DER or PEM), re-read when files change. */
  crlDir?: string;
  /**
   * "require" (default): fail with REVOCATION_UNAVAILABLE when no current revocation information is found;
   * "warn" (or its alias "prefer"): proceed, with a warning in the result; "off": do not check revocation.
   */
  revocation?: RevocationMode;
  /** Fetch CRLs from the certificates' HTTP distribution points (cached on disk under cacheDir). Default false. */
  fetchCrls?: boolean;
  /** Directory of the CRL download cache. Default: no disk cache (memory only). */
  cacheDir?: string;
  /** Ask the OCSP responder named in the certificate's AIA when no CRL settles the status. Default false. */
  ocsp?: boolean;
  /** OCSP answers without nextUpdate are accepted for this many seconds after thisUpdate. Default 86400. */
  ocspMaxAgeSeconds?: number;
  /** Timeout of each HTTP request (CRL or OCSP), ms. Default 10000. */
  httpTimeoutMs?: number;
  /** Largest CRL accepted over HTTP, bytes. Default 20 MiB. */
  maxCrlBytes?: number;
  /**
   * Maps each CRL distribution point and OCSP responder URL before it is used (a local mirror or proxy, or a test
   * server on another port). Default: URLs are used as the certificate names them.
   */
  rewriteUrl?: (url: string) => string;
  /** The clock: default () => new Date(). Used for CRL/OCSP freshness and as the default validation time. */
  now?: () => Date;
  /** See PathCheckOptions.acceptableEkus. */
  acceptableEkus?: string[];
  /** See PathCheckOptions.strictProfile (default true). */
  strictProfile?: boolean;
  /** Most non-self-issued intermediates in a path. Default unlimited (the builder stops at 8). */
  maxChainDepth?: number;
}

/** The result of verifyCertificate: like TrustResult, over whatever certificate objects were passed in. */
export interface VerifyOutcome<T> {
  path: T[];
  checks: string[];
  warnings: string[];
  revocation: TrustResult["revocation"];
  userConstrainedPolicySet: string[];
}

function parseInput(c: CertInput, what: string): ParsedCert {
  try {
    return parseCert(derOf(c));
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError("MALFORMED", `${what} is not a readable X.509 certificate (${(err as Error).message}).`);
  }
}

/** Engine wiring shared by createTrustPolicy and verifyCertificate. */
class Verifier<T extends CertInput> {
  private readonly anchors: ParsedCert[];
  private readonly pool: ParsedCert[];
  private readonly byHash = new Map<string, T>();
  private readonly sources: RevocationSources;

  constructor(
    anchors: T[],
    intermediates: T[],
    private readonly options: TrustPolicyOptions | Omit<TrustPolicyOptions, "anchors" | "intermediates">,
  ) {
    if (anchors.length === 0)
      throw new PkiError("UNTRUSTED", "The trust policy has no trust anchors: nothing can be trusted.");
    this.anchors = anchors.map((a, i) => this.remember(a, parseInput(a, `Trust anchor #${i + 1}`)));
    this.pool = intermediates.map((c, i) => this.remember(c, parseInput(c, `Intermediate certificate #${i + 1}`)));
    const store = new CrlStore(options.crls, options.crlDir);
    const timeout = options.httpTimeoutMs ?? CRL_FETCH_LIMITS.timeoutMs;
    this.sources = { localCrls: () => store.all() };
    if (options.fetchCrls) {
      const fetcher = new CrlFetcher({
        cacheDir: options.cacheDir,
        timeoutMs: timeout,
        maxBytes: options.maxCrlBytes ?? CRL_FETCH_LIMITS.maxBytes,
        rewriteUrl: options.rewriteUrl,
      });
      this.sources.fetchCrls = (cert, now) => fetcher.fetchFor(cert, now);
    }
    if (options.ocsp) {
      const client = new OcspClient({
        timeoutMs: timeout,
        maxAgeSeconds: options.ocspMaxAgeSeconds ?? 86400,
        algorithms: options,
        rewriteUrl: options.rewriteUrl,
      });
      this.sources.ocsp = (cert, issuer, now) => client.status(cert, issuer, now);
    }
  }

  private remember(c: T, pc: ParsedCert, into: Map<string, T> = this.byHash): ParsedCert {
    if (!into.has(pc.sha256)) into.set(pc.sha256, c);
    return pc;
  }

  async run(ee: T, extra: T[], opts: ValidateOptions & { requiredKeyUsage?: string[] }): Promise<VerifyOutcome<T>> {
    const o = this.options;
    const now = o.now ? o.now() : new Date();
    // Certificates of this call are remembered for this call only (a long-running server validates many).
    const local = new Map<string, T>();
    const pee = this.remember(ee, parseInput(ee, "The certificate to validate"), local);
    const pool = [
      ...this.pool,
      ...extra.map((c, i) => this.remember(c, parseInput(c, `Intermediate certificate #${i + 1} of this file`), local)),
    ];
    const engineOptions: EngineOptions & PathCheckOptions = {
      time: opts.time ?? now,
      now,
      purpose: opts.purpose,
      requiredKeyUsage: opts.requiredKeyUsage,
      revocation: o.revocation ?? "require",
      allowSha1: o.allowSha1,
      minRsaBits: o.minRsaBits,
      initialPolicySet: o.initialPolicySet,
      initialExplicitPolicy: o.initialExplicitPolicy,
      initialPolicyMappingInhibit: o.initialPolicyMappingInhibit,
      initialAnyPolicyInhibit: o.initialAnyPolicyInhibit,
      acceptableEkus: o.acceptableEkus,
      strictProfile: o.strictProfile,
      maxChainDepth: o.maxChainDepth,
    };
    const r = await validateParsed(pee, this.anchors, pool, engineOptions, this.sources);
    return {
      path: r.path.map((p) => (this.byHash.get(p.sha256) ?? local.get(p.sha256)) as T),
      checks: r.checks,
      warnings: r.warnings,
      revocation: r.revocation,
      userConstrainedPolicySet: r.userConstrainedPolicySet,
    };
  }
}

/**
 * The trust policy of an agency: certificates are trusted only when they chain to one of `options.anchors` under
 * RFC 5280 section 6 (signatures, validity, names, basicConstraints/pathLen, keyUsage, unknown critical extensions,
 * name constraints, policies), fit the requested purpose, and are not revoked (CRLs from files, a directory, HTTP
 * distribution points; OCSP). `validate` throws PkiError with a specific code on failure.
 */
export function createTrustPolicy(options: TrustPolicyOptions): TrustPolicy {
  const verifier = new Verifier<CertInfo>(options.anchors, options.intermediates ?? [], options);
  return {
    async validate(cert: CertInfo, opts: ValidateOptions = {}): Promise<TrustResult> {
      const r = await verifier.run(cert, opts.intermediates ?? [], opts);
      return { path: r.path, checks: r.checks, warnings: r.warnings, revocation: r.revocation };
    },
  };
}

/**
 * One-shot validation over CertInfo objects or raw DER (used by the PKITS and x509-limbo suites): same engine and
 * options as createTrustPolicy, plus the validation `time` and `purpose`/`requiredKeyUsage`.
 */
export async function verifyCertificate<T extends CertInput>(
  ee: T,
  options: Omit<TrustPolicyOptions, "anchors" | "intermediates"> & {
    anchors: T[];
    intermediates?: T[];
    time?: Date;
    purpose?: ValidateOptions["purpose"];
    /** keyUsage bits of which the end entity must assert at least one (instead of a purpose). */
    requiredKeyUsage?: string[];
  },
): Promise<VerifyOutcome<T>> {
  const v = new Verifier<T>(options.anchors, options.intermediates ?? [], options);
  return v.run(ee, [], { time: options.time, purpose: options.purpose, requiredKeyUsage: options.requiredKeyUsage });
}

import { PkiError } from "../errors.js";
import { buildPathsParsed } from "./build.js";
import { type CrlStatus, checkByCrl } from "./crl-check.js";
import type { ParsedCrl } from "./crl.js";
import { certLabel, day, stamp } from "./describe.js";
import { commonNameOf, displayName } from "./names.js";
import { type PathCheckOptions, checkPath } from "./validate.js";
import type { ParsedCert } from "./x509.js";

/** How revocation status is treated: "require" fails without it, "warn" (alias "prefer") proceeds with a warning. */
export type RevocationMode = "require" | "warn" | "prefer" | "off";

/** An OCSP answer already verified by the OCSP client. */
export type OcspStatus =
  | { status: "good"; thisUpdate: Date; responder: string }
  | { status: "revoked"; thisUpdate: Date; revocationDate: Date; reason: string; responder: string }
  | { status: "unknown" | "unavailable"; why: string };

export interface RevocationSources {
  /** CRLs at hand (files, inline, cache). */
  localCrls(): Promise<ParsedCrl[]>;
  /** CRLs from the certificate's distribution points (may use a cache). Empty when fetching is off. */
  fetchCrls?(cert: ParsedCert, now: Date): Promise<{ crls: ParsedCrl[]; errors: string[] }>;
  /** OCSP status of `cert` issued by `issuer`; undefined when OCSP is off. */
  ocsp?(cert: ParsedCert, issuer: ParsedCert, now: Date): Promise<OcspStatus>;
}

export interface EngineOptions extends PathCheckOptions {
  revocation: RevocationMode;
  /** Current time for CRL/OCSP freshness. */
  now: Date;
  maxIntermediates?: number | undefined;
}

export interface EngineResult {
  path: ParsedCert[];
  checks: string[];
  warnings: string[];
  revocation: { source: "crl" | "ocsp" | "none"; detail: string; thisUpdate?: Date } | undefined;
  userConstrainedPolicySet: string[];
}

interface RevInfo {
  source: "crl" | "ocsp" | "none";
  detail: string;
  thisUpdate?: Date;
}

function crlName(crl: ParsedCrl): string {
  return `the CRL of ${commonNameOf(crl.issuer) ?? displayName(crl.issuer)} issued ${stamp(crl.thisUpdate)}`;
}

function revokedError(
  pc: ParsedCert,
  reason: string,
  date: Date,
  per: string,
  details: Record<string, unknown>,
): PkiError {
  if (reason === "certificateHold") {
    return new PkiError("ON_HOLD", `${certLabel(pc)} was put on hold on ${day(date)}, per ${per}.`, {
      hint: "A hold can be lifted: ask the holder's CA, and try again once a newer CRL no longer lists it.",
      details,
    });
  }
  return new PkiError("REVOKED", `${certLabel(pc)} was revoked on ${day(date)} (${reason}), per ${per}.`, {
    hint: "Do not rely on this certificate; ask the holder for their new certificate.",
    details,
  });
}

/** Error ranking when every candidate path failed: the most telling failure is reported. */
function weight(e: unknown): number {
  if (!(e instanceof PkiError)) return 0;
  return e.code === "UNTRUSTED" ? 1 : 2;
}

/**
 * Validates `ee` against `anchors`: builds candidate paths through `pool`, runs RFC 5280 6.1 on each, then
 * revocation (6.3 CRLs, then OCSP) for every certificate below the anchor, and returns the first path that
 * passes. `stack` guards the recursion through CRL-signer validation.
 */
export async function validateParsed(
  ee: ParsedCert,
  anchors: ParsedCert[],
  pool: ParsedCert[],
  options: EngineOptions,
  sources: RevocationSources,
  stack: string[] = [],
): Promise<EngineResult> {
  let best: unknown;
  let tried = 0;
  for (const cand of buildPathsParsed(ee, anchors, pool, {
    time: options.time,
    maxIntermediates: options.maxIntermediates,
  })) {
    tried++;
    try {
      const issuerFirst = cand.certs.slice(0, -1).reverse();
      const res = checkPath(cand.anchor, issuerFirst, options);
      const { warnings, revocation, checks } = await checkRevocation(
        cand.certs,
        cand.anchor,
        anchors,
        pool,
        options,
        sources,
        stack,
      );
      return {
        path: cand.certs,
        checks: [...res.checks, ...checks],
        warnings: [...res.warnings, ...warnings],
        revocation,
        userConstrainedPolicySet: res.userConstrainedPolicySet,
      };
    } catch (err) {
      if (!(err instanceof PkiError)) throw err;
      // A revoked or held end entity stays so on every other path: report it without asking again.
      if ((err.code === "REVOKED" || err.code === "ON_HOLD") && err.details?.certificateSha256 === ee.sha256) throw err;
      if (best === undefined || weight(err) > weight(best)) best = err;
    }
  }
  if (best) throw best;
  throw new PkiError(
    "UNTRUSTED",
    tried === 0
      ? `${certLabel(ee)} does not chain to a trusted root: no certificate of its issuer "${commonNameOf(ee.issuer) ?? displayName(ee.issuer)}" leads to a trust anchor.`
      : `${certLabel(ee)} does not chain to a trusted root.`,
    {
      hint: "Check that the issuing CA's certificate is installed and that the certificate comes from the government PKI.",
    },
  );
}

export async function checkRevocation(
  pathEeFirst: ParsedCert[],
  anchor: ParsedCert,
  anchors: ParsedCert[],
  pool: ParsedCert[],
  options: EngineOptions,
  sources: RevocationSources,
  stack: string[],
): Promise<{ warnings: string[]; revocation: RevInfo | undefined; checks: string[] }> {
  const warnings: string[] = [];
  if (options.revocation === "off") return { warnings, revocation: undefined, checks: [] };
  const local = await sources.localCrls();
  let eeInfo: RevInfo = { source: "none", detail: "no revocation information" };
  const checks = new Set<string>();
  // From the CA below the anchor down to the end entity, as RFC 5280 6.1.3 (a)(3) walks the path.
  for (let k = pathEeFirst.length - 2; k >= 0; k--) {
    const pc = pathEeFirst[k] as ParsedCert;
    const issuer = pathEeFirst[k + 1] as ParsedCert;
    if (stack.includes(pc.sha256)) {
      continue;
    }
    const ctx = {
      pathCerts: pathEeFirst.slice(k + 1),
      candidates: [...pool, ...anchors],
      crls: local,
      now: options.now,
      algorithms: options,
      validateSigner: async (signer: ParsedCert) => {
        if (stack.length > 6) throw new PkiError("REVOCATION_UNAVAILABLE", "CRL signer chain too deep");
        await validateParsed(
          signer,
          [anchor],
          pool,
          {
            ...options,
            purpose: undefined,
            requiredKeyUsage: ["cRLSign"],
            acceptableEkus: [],
            initialExplicitPolicy: false,
            initialPolicySet: undefined,
          },
          sources,
          [...stack, pc.sha256],
        );
      },
    };
    let st: CrlStatus = await checkByCrl(pc, ctx);
    const notes: string[] = st.status === "undetermined" ? [...st.why] : [];
    if (st.status === "undetermined" && sources.fetchCrls && pc.crlDistributionPoints) {
      const fetched = await sources.fetchCrls(pc, options.now);
      notes.push(...fetched.errors);
      if (fetched.crls.length > 0) {
        st = await checkByCrl(pc, { ...ctx, crls: [...local, ...fetched.crls] });
        if (st.status === "undetermined") notes.push(...st.why);
      }
    }
    let info: RevInfo | undefined;
    if (st.status === "revoked") {
      throw revokedError(pc, st.reason, st.revocationDate, crlName(st.crl), {
        reason: st.reason,
        revocationDate: st.revocationDate.toISOString(),
        crlThisUpdate: st.crl.thisUpdate.toISOString(),
        source: "crl",
      });
    }
    if (st.status === "good") {
      info = { source: "crl", detail: `${crlName(st.crl)} (${st.crl.source})`, thisUpdate: st.crl.thisUpdate };
      checks.add("revocation:crl");
    } else if (sources.ocsp && pc.ocspUrls.length > 0) {
      const o = await sources.ocsp(pc, issuer, options.now);
      if (o.status === "revoked") {
        throw revokedError(
          pc,
          o.reason,
          o.revocationDate,
          `the OCSP responder ${o.responder} (answer of ${stamp(o.thisUpdate)})`,
          {
            reason: o.reason,
            revocationDate: o.revocationDate.toISOString(),
            source: "ocsp",
          },
        );
      }
      if (o.status === "good") {
        info = { source: "ocsp", detail: `OCSP responder ${o.responder}`, thisUpdate: o.thisUpdate };
        checks.add("revocation:ocsp");
      } else notes.push(o.status === "unknown" ? `the OCSP responder does not know it: ${o.why}` : o.why);
    }
    if (!info) {
      const msg = `The revocation status of ${certLabel(pc)} could not be established: ${notes.join("; ")}.`;
      if (options.revocation === "require") {
        throw new PkiError("REVOCATION_UNAVAILABLE", msg, {
          hint: "Download the issuing CA's current CRL (or enable CRL fetching / OCSP) and try again.",
          details: { reasons: notes },
        });
      }
      warnings.push(msg);
      info = { source: "none", detail: notes.join("; ") };
    }
    if (k === 0) eeInfo = info;
  }
  return { warnings, revocation: eeInfo, checks: [...checks] };
}

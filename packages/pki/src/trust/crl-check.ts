import { bytesEqual } from "./der.js";
import { type GeneralName, type Name, generalNameKey, parseName } from "./names.js";
import { decode } from "./der.js";
import type { ParsedCrl } from "./crl.js";
import { type AlgorithmPolicy, OID_DSA_KEY, publicKeyFrom, verifySignature } from "./signature.js";
import { type DistributionPoint, type ParsedCert, REASON_BITS } from "./x509.js";

const ALL_REASONS = REASON_BITS.filter((r) => r !== "unused");

/** The outcome of RFC 5280 6.3 for one certificate. */
export type CrlStatus =
  | { status: "good"; crl: ParsedCrl }
  | { status: "revoked"; crl: ParsedCrl; reason: string; revocationDate: Date }
  | { status: "undetermined"; why: string[] };

export interface CrlCheckContext {
  /** The validated path the certificate belongs to, anchor included; its certificates are trusted CRL signers. */
  pathCerts: ParsedCert[];
  /** Certificates that may have signed a CRL (intermediates pool, anchors). */
  candidates: ParsedCert[];
  crls: ParsedCrl[];
  now: Date;
  algorithms: AlgorithmPolicy;
  /** Validates a CRL signer found outside the path (to the same trust anchor, with cRLSign). Throws on failure. */
  validateSigner(signer: ParsedCert): Promise<void>;
}

function dnNames(gns: GeneralName[] | undefined): Name[] {
  return (gns ?? []).flatMap((g) => (g.kind === "dn" ? [g.value] : []));
}

/** The full names of a distribution point name, resolving a relative name against `base`. */
function dpNames(
  fullName: GeneralName[] | undefined,
  relative: Uint8Array | undefined,
  base: Name | undefined,
): string[] {
  if (fullName) return fullName.map(generalNameKey);
  if (relative && base) {
    const body = Buffer.concat([Buffer.from(base.der.subarray(headerLen(base.der))), Buffer.from(relative)]);
    const seq = Buffer.concat([Buffer.from(lengthHeader(0x30, body.length)), body]);
    return [`dn:${parseName(decode(new Uint8Array(seq))).key}`];
  }
  return [];
}

function headerLen(der: Uint8Array): number {
  const b = der[1] as number;
  return b < 0x80 ? 2 : 2 + (b & 0x7f);
}

function lengthHeader(tag: number, len: number): number[] {
  if (len < 0x80) return [tag, len];
  if (len < 0x100) return [tag, 0x81, len];
  return [tag, 0x82, len >> 8, len & 0xff];
}

function isCa(pc: ParsedCert): boolean {
  return pc.basicConstraints?.ca === true;
}

/** RFC 5280 6.3.3 (b): does `crl` cover `cert` for distribution point `dp`? Returns a reason when not. */
function scopeProblem(cert: ParsedCert, dp: DistributionPoint | undefined, crl: ParsedCrl): string | undefined {
  const indirectIssuers = dnNames(dp?.crlIssuer);
  if (dp?.crlIssuer) {
    if (!indirectIssuers.some((n) => n.key === crl.issuer.key))
      return "issued by someone else than the distribution point's CRL issuer";
    if (!crl.idp?.indirect) return "not an indirect CRL";
  } else if (crl.issuer.key !== cert.issuer.key) return "issued by another CA";
  const idp = crl.idp;
  if (idp) {
    const idpNames = dpNames(idp.fullName, idp.relativeName, crl.issuer);
    if (idpNames.length > 0) {
      let certNames: string[] = [];
      if (dp && (dp.fullName || dp.relativeName)) {
        const base = indirectIssuers[0] ?? cert.issuer;
        certNames = dpNames(dp.fullName, dp.relativeName, base);
      } else if (dp?.crlIssuer) certNames = dp.crlIssuer.map(generalNameKey);
      if (!certNames.some((n) => idpNames.includes(n))) return "for another distribution point";
    }
    if (idp.onlyUserCerts && isCa(cert)) return "only for end-entity certificates";
    if (idp.onlyCaCerts && !isCa(cert)) return "only for CA certificates";
    if (idp.onlyAttributeCerts) return "only for attribute certificates";
  }
  return undefined;
}

function entryFor(crl: ParsedCrl, cert: ParsedCert): ParsedCrl["entries"][number] | undefined {
  return crl.entries.find((e) => e.serial === cert.serial && e.issuerKey === cert.issuer.key);
}

/** Verifies the CRL's signature and finds its trusted signer; returns a problem string when none qualifies. */
async function verifyCrlSigner(crl: ParsedCrl, _cert: ParsedCert, ctx: CrlCheckContext): Promise<string | undefined> {
  if (!bytesEqual(crl.sigAlg.der, crl.tbsSigAlg.der)) return "its two signature algorithm fields differ";
  const inPath = ctx.pathCerts.filter((c) => c.subject.key === crl.issuer.key);
  const others = ctx.candidates.filter(
    (c) => c.subject.key === crl.issuer.key && !inPath.some((p) => p.sha256 === c.sha256),
  );
  const ordered = [...inPath, ...others].filter(
    (c) => !crl.authorityKeyId || !c.subjectKeyId || c.subjectKeyId === crl.authorityKeyId,
  );
  let problem = "no certificate of its issuer verifies its signature";
  for (const signer of ordered) {
    try {
      let params: Uint8Array | undefined;
      if (signer.keyAlg.oid === OID_DSA_KEY && !signer.keyAlg.params) {
        const idx = ctx.pathCerts.indexOf(signer);
        for (let j = idx + 1; j > 0 && j < ctx.pathCerts.length; j++) {
          const p = ctx.pathCerts[j] as ParsedCert;
          if (p.keyAlg.params) {
            params = p.keyAlg.params;
            break;
          }
        }
      }
      verifySignature(crl.tbs, crl.sigAlg, crl.signature, publicKeyFrom(signer.spki, params), ctx.algorithms);
    } catch {
      continue;
    }
    if (signer.keyUsage && !signer.keyUsage.has("cRLSign")) {
      problem = "its signer's certificate is not allowed to sign CRLs (keyUsage lacks cRLSign)";
      continue;
    }
    if (inPath.includes(signer)) return undefined;
    try {
      await ctx.validateSigner(signer);
      return undefined;
    } catch (err) {
      problem = `its signer's certificate is not valid: ${(err as Error).message}`;
    }
  }
  return problem;
}

function newestFirst(a: ParsedCrl, b: ParsedCrl): number {
  if (
    a.crlNumber !== undefined &&
    b.crlNumber !== undefined &&
    a.issuer.key === b.issuer.key &&
    a.crlNumber !== b.crlNumber
  ) {
    return a.crlNumber > b.crlNumber ? -1 : 1;
  }
  return b.thisUpdate.getTime() - a.thisUpdate.getTime();
}

/**
 * RFC 5280 6.3 for `cert`: for each of its CRL distribution points (or its issuer, when it names none), uses the
 * newest current CRL of each scope whose signature and signer check out, until every reason is covered or an entry
 * is found. Delta CRLs are applied over their base. Returns good, revoked, or undetermined with the reasons.
 */
export async function checkByCrl(cert: ParsedCert, ctx: CrlCheckContext): Promise<CrlStatus> {
  const why: string[] = [];
  const mask = new Set<string>();
  const dps: Array<DistributionPoint | undefined> = cert.crlDistributionPoints?.length
    ? cert.crlDistributionPoints
    : [undefined];
  const sorted = [...ctx.crls].sort(newestFirst);
  let lastGood: ParsedCrl | undefined;
  for (const dp of dps) {
    const doneScopes = new Set<string>();
    for (const crl of sorted) {
      if (crl.baseCrlNumber !== undefined) continue;
      if (scopeProblem(cert, dp, crl) !== undefined) continue;
      const label = `the CRL from ${crl.source} (issued ${crl.thisUpdate.toISOString()})`;
      if (crl.nextUpdate && crl.nextUpdate < ctx.now) {
        why.push(`${label} expired on ${crl.nextUpdate.toISOString()}`);
        continue;
      }
      if (crl.thisUpdate.getTime() > ctx.now.getTime() + 5 * 60_000) {
        why.push(`${label} is dated in the future`);
        continue;
      }
      if (crl.unusable) {
        why.push(`${label} cannot be used: ${crl.unusable}`);
        continue;
      }
      const scopeKey = `${crl.issuer.key}|${crl.idp ? Buffer.from(crl.idp.der).toString("hex") : ""}`;
      if (doneScopes.has(scopeKey)) continue;
      const interim = new Set<string>(ALL_REASONS);
      if (dp?.reasons) for (const r of [...interim]) if (!dp.reasons.has(r)) interim.delete(r);
      if (crl.idp?.onlySomeReasons)
        for (const r of [...interim]) if (!crl.idp.onlySomeReasons.has(r)) interim.delete(r);
      if ([...interim].every((r) => mask.has(r))) continue;
      const sigProblem = await verifyCrlSigner(crl, cert, ctx);
      if (sigProblem) {
        why.push(`${label} is not trustworthy: ${sigProblem}`);
        continue;
      }
      doneScopes.add(scopeKey);
      // Delta CRLs for this base (same issuer and scope, newer, current, signed by a trusted signer).
      let entry = entryFor(crl, cert);
      let used = crl;
      if (crl.crlNumber !== undefined) {
        for (const delta of sorted) {
          if (delta.baseCrlNumber === undefined || delta.issuer.key !== crl.issuer.key) continue;
          if (delta.baseCrlNumber > crl.crlNumber || (delta.crlNumber ?? 0n) <= crl.crlNumber) continue;
          if (
            (delta.idp ? Buffer.from(delta.idp.der).toString("hex") : "") !==
            (crl.idp ? Buffer.from(crl.idp.der).toString("hex") : "")
          )
            continue;
          if ((delta.nextUpdate && delta.nextUpdate < ctx.now) || delta.unusable) continue;
          if (await verifyCrlSigner(delta, cert, ctx)) continue;
          const d = entryFor(delta, cert);
          if (d) {
            entry = d.reason === "removeFromCRL" ? undefined : d;
            used = delta;
          }
          break;
        }
      }
      if (entry && entry.reason !== "removeFromCRL") {
        return { status: "revoked", crl: used, reason: entry.reason, revocationDate: entry.revocationDate };
      }
      for (const r of interim) mask.add(r);
      lastGood = used;
      if (mask.size === ALL_REASONS.length) return { status: "good", crl: lastGood };
    }
  }
  if (mask.size > 0 && mask.size < ALL_REASONS.length)
    why.push("the available CRLs cover only some revocation reasons");
  if (why.length === 0) why.push("no CRL from its issuer was available");
  return { status: "undetermined", why };
}

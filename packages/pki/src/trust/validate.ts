import type { KeyObject } from "node:crypto";
import { PkiError, type PkiErrorCode } from "../errors.js";
import type { KeyPurpose } from "../types.js";
import { certLabel, day } from "./describe.js";
import { bytesEqual } from "./der.js";
import { ConstraintState, type GeneralName, OID_EMAIL_ADDRESS } from "./names.js";
import { type PolicyInputs, PolicyProcessor } from "./policy-tree.js";
import {
  type AlgorithmPolicy,
  OID_DSA_KEY,
  SignatureProblem,
  checkKeyStrength,
  describeSigAlg,
  publicKeyFrom,
  verifySignature,
} from "./signature.js";
import { KNOWN_CERT_EXTENSIONS, OID, type ParsedCert } from "./x509.js";

/** Options of the RFC 5280 section 6.1 run over one candidate path. */
export interface PathCheckOptions extends AlgorithmPolicy, PolicyInputs {
  /** Time at which every certificate must be valid. */
  time: Date;
  /** Required end-entity use: "sign", "encrypt", or raw keyUsage bit names (any one of them suffices). */
  purpose?: KeyPurpose | undefined;
  requiredKeyUsage?: string[] | undefined;
  /**
   * Extended key usages accepted in the end-entity certificate when it carries the extension. Default:
   * emailProtection, documentSigning, anyExtendedKeyUsage. An end entity without the extension is accepted.
   */
  acceptableEkus?: string[] | undefined;
  /**
   * Enforce the RFC 5280 section 4 certificate profile too (serial numbers, AKI/SKI presence, critical flags,
   * empty names, basicConstraints critical in CA certificates ...). Default true. PKITS predates some of these
   * rules and is run with strict false.
   */
  strictProfile?: boolean | undefined;
  /** Most non-self-issued intermediates (x509-limbo max_chain_depth). Default unlimited. */
  maxChainDepth?: number | undefined;
}

export interface PathCheckResult {
  userConstrainedPolicySet: string[];
  checks: string[];
  /** Deviations from the profile that validators accept (a CA's basicConstraints not marked critical). */
  warnings: string[];
}

const DEFAULT_EKUS = [OID.ekuEmailProtection, OID.ekuDocumentSigning, OID.anyEku];

function fail(code: PkiErrorCode, message: string, hint?: string, details?: Record<string, unknown>): never {
  throw new PkiError(code, message, { hint, details });
}

function sigFailure(p: SignatureProblem, subject: ParsedCert, signer: ParsedCert | undefined): never {
  const who = certLabel(subject);
  switch (p.code) {
    case "WEAK_ALGORITHM":
      fail(
        "WEAK_ALGORITHM",
        `${who} is ${p.message}.`,
        "Ask the issuing CA for a certificate signed with SHA-256 or stronger.",
      );
      break;
    case "UNSUPPORTED_ALGORITHM":
      fail("UNSUPPORTED_ALGORITHM", `${who} uses a signature algorithm sealpost does not accept: ${p.message}.`);
      break;
    case "WEAK_KEY":
      fail(
        "WEAK_KEY",
        `${who} has a weak key: ${p.message}.`,
        "Ask for a new certificate with an RSA key of 2048 bits or more.",
      );
      break;
    default:
      fail(
        "BAD_CERT_SIGNATURE",
        `${who} does not carry a valid signature of ${signer ? certLabel(signer) : "its issuer"}: it may be forged or damaged.`,
        "Obtain the certificate again from the issuing CA's directory.",
      );
  }
}

/** Checks the validity period of `pc` at `time`. */
export function checkValidity(pc: ParsedCert, time: Date): void {
  if (time < pc.notBefore) {
    fail(
      "NOT_YET_VALID",
      `${certLabel(pc)} is not valid until ${day(pc.notBefore)} (checked for ${day(time)}).`,
      "Check the computer's clock, or wait until the certificate's start date.",
      { notBefore: pc.notBefore.toISOString() },
    );
  }
  if (time > pc.notAfter) {
    fail(
      "EXPIRED",
      `${certLabel(pc)} expired on ${day(pc.notAfter)} (checked for ${day(time)}).`,
      "Ask the holder to renew the certificate and register the new one.",
      { notAfter: pc.notAfter.toISOString() },
    );
  }
}

function unknownCritical(pc: ParsedCert): void {
  for (const e of pc.extensions) {
    if (e.critical && !KNOWN_CERT_EXTENSIONS.has(e.oid)) {
      fail(
        "UNKNOWN_CRITICAL_EXTENSION",
        `${certLabel(pc)} contains a critical extension (${e.oid}) that sealpost does not understand, so it must not be relied on.`,
      );
    }
  }
}

function malformed(pc: ParsedCert, why: string): never {
  fail("MALFORMED", `${certLabel(pc)} does not follow the X.509 certificate profile (RFC 5280): ${why}.`);
}

/**
 * Structural rules every certificate must meet, and (strict) the RFC 5280 section 4 profile. Adds to `warnings`
 * what the profile asks of the issuing CA but validators accept: an intermediate CA certificate whose
 * basicConstraints is not marked critical (RFC 5280 4.2.1.9 binds CAs to mark it; PKITS 4.6.4 expects the path to
 * validate). A trust anchor must still mark it (x509-limbo rfc5280::root-non-critical-basic-constraints).
 */
function checkProfile(pc: ParsedCert, role: "anchor" | "ca" | "ee", strict: boolean, warnings: string[]): void {
  if (pc.duplicateExtension) malformed(pc, `extension ${pc.duplicateExtension} appears twice`);
  if (pc.extensionError) malformed(pc, pc.extensionError);
  if (!bytesEqual(pc.sigAlg.der, pc.tbsSigAlg.der)) malformed(pc, "the two signature algorithm fields differ");
  if (pc.version < 3 && pc.extensions.length > 0) malformed(pc, "extensions in a version 1 or 2 certificate");
  if (!strict) return;
  if (pc.serialBytes.length > 20) malformed(pc, "serial number longer than 20 octets");
  if (pc.serial <= 0n) malformed(pc, "serial number is zero or negative");
  if (pc.issuer.rdns.length === 0) malformed(pc, "empty issuer name");
  const bc = pc.ext.get(OID.basicConstraints);
  const isCa = pc.basicConstraints?.ca === true;
  if (pc.authorityKeyId && pc.ext.get(OID.authorityKeyId)?.critical)
    malformed(pc, "authorityKeyIdentifier marked critical");
  if (pc.ext.get(OID.subjectKeyId)?.critical) malformed(pc, "subjectKeyIdentifier marked critical");
  if (pc.ext.get(OID.authorityInfoAccess)?.critical) malformed(pc, "authorityInfoAccess marked critical");
  if (!pc.selfIssued && !pc.authorityKeyId?.keyId) malformed(pc, "no authorityKeyIdentifier key identifier");
  if (isCa && !pc.subjectKeyId) malformed(pc, "CA certificate without subjectKeyIdentifier");
  if (isCa && bc && !bc.critical && role === "anchor") {
    malformed(pc, "basicConstraints not marked critical in a trust anchor");
  }
  if (isCa && bc && !bc.critical) {
    warnings.push(
      `${certLabel(pc)} does not mark basicConstraints critical, as RFC 5280 asks of CA certificates; accepted.`,
    );
  }
  if ((isCa || pc.keyUsage?.has("keyCertSign")) && pc.subject.rdns.length === 0)
    malformed(pc, "CA certificate with an empty subject");
  if (pc.keyUsage?.has("keyCertSign") && !isCa) malformed(pc, "keyCertSign asserted without cA in basicConstraints");
  if (pc.basicConstraints?.pathLen !== undefined && (!isCa || (pc.keyUsage && !pc.keyUsage.has("keyCertSign")))) {
    malformed(pc, "pathLenConstraint without cA and keyCertSign");
  }
  if (pc.subject.rdns.length === 0) {
    const san = pc.ext.get(OID.subjectAltName);
    if (!san) malformed(pc, "empty subject and no subjectAltName");
    if (!san.critical) malformed(pc, "empty subject with a non-critical subjectAltName");
  }
  const nc = pc.ext.get(OID.nameConstraints);
  if (nc && !nc.critical) malformed(pc, "nameConstraints not marked critical");
  if (nc && role === "ee") malformed(pc, "nameConstraints in an end-entity certificate");
}

function checkCa(pc: ParsedCert, isAnchor: boolean): void {
  if (pc.version < 3 || !pc.basicConstraints?.ca) {
    fail(
      "PATH_CONSTRAINT",
      `${certLabel(pc)} is ${isAnchor ? "a trust anchor that is" : "used as an intermediate CA but is"} not a CA certificate (basicConstraints cA is not set).`,
    );
  }
  if (pc.keyUsage && !pc.keyUsage.has("keyCertSign")) {
    fail("KEY_USAGE", `${certLabel(pc)} is not allowed to sign certificates (keyUsage lacks keyCertSign).`);
  }
}

function subjectNames(pc: ParsedCert): GeneralName[] {
  const out: GeneralName[] = [];
  if (pc.subject.rdns.length > 0) out.push({ kind: "dn", value: pc.subject });
  for (const rdn of pc.subject.rdns) {
    for (const a of rdn)
      if (a.type === OID_EMAIL_ADDRESS && a.text !== undefined) out.push({ kind: "email", value: a.text });
  }
  out.push(...(pc.subjectAltNames ?? []));
  return out;
}

const PURPOSE_KU: Record<string, (pc: ParsedCert, keyType: string | undefined) => string[]> = {
  sign: () => ["digitalSignature", "nonRepudiation"],
  encrypt: (_pc, keyType) =>
    keyType === "ec" || keyType === "x25519" || keyType === "x448" ? ["keyAgreement"] : ["keyEncipherment"],
};

/** End-entity usage: keyUsage for the purpose, and extendedKeyUsage when present. */
export function checkEndEntityUsage(pc: ParsedCert, key: KeyObject | undefined, options: PathCheckOptions): string[] {
  const checks: string[] = [];
  let need = options.requiredKeyUsage;
  if (!need && options.purpose) need = PURPOSE_KU[options.purpose]?.(pc, key?.asymmetricKeyType);
  if (need && pc.keyUsage) {
    if (!need.some((u) => pc.keyUsage?.has(u))) {
      const what =
        options.purpose === "sign" ? "signing" : options.purpose === "encrypt" ? "encryption" : need.join("/");
      fail(
        "KEY_USAGE",
        `${certLabel(pc)} may not be used for ${what}: its key usage is ${[...pc.keyUsage].join(", ") || "empty"}, and ${need.join(" or ")} is required.`,
        options.purpose === "sign"
          ? "Use the holder's signing certificate (key usage digitalSignature or nonRepudiation)."
          : options.purpose === "encrypt"
            ? "Use the holder's encryption certificate (key usage keyEncipherment)."
            : undefined,
        { keyUsage: [...pc.keyUsage], required: need },
      );
    }
    checks.push("keyUsage");
  }
  const ekus = options.acceptableEkus ?? DEFAULT_EKUS;
  if (pc.extKeyUsage && ekus.length > 0) {
    if (!pc.extKeyUsage.some((e) => ekus.includes(e))) {
      fail(
        "KEY_USAGE",
        `${certLabel(pc)} is restricted by its extended key usage (${pc.extKeyUsage.join(", ")}) to other uses than this one.`,
        undefined,
        { extKeyUsage: pc.extKeyUsage, acceptable: ekus },
      );
    }
    checks.push("extKeyUsage");
  }
  return checks;
}

/**
 * Runs RFC 5280 6.1 over `certs` (issued by the anchor first, end entity last) and the trust anchor `anchor`:
 * signatures, validity, name chaining, basicConstraints/pathLen, keyUsage, unknown critical extensions, name
 * constraints and certificate policies, then the end-entity usage. Revocation is checked separately. The anchor's
 * own constraints (validity, basicConstraints, keyUsage, pathLen, name constraints, critical extensions) apply too.
 * Throws PkiError with the code of the first failed check.
 */
export function checkPath(anchor: ParsedCert, certs: ParsedCert[], options: PathCheckOptions): PathCheckResult {
  const strict = options.strictProfile ?? true;
  const n = certs.length;
  const time = options.time;
  const checks = new Set<string>();
  const warnings: string[] = [];
  checkProfile(anchor, "anchor", strict, warnings);
  unknownCritical(anchor);
  checkValidity(anchor, time);
  checkCa(anchor, true);
  let workingKey: KeyObject;
  try {
    workingKey = publicKeyFrom(anchor.spki);
    checkKeyStrength(workingKey, options);
  } catch (err) {
    if (err instanceof SignatureProblem) sigFailure(err, anchor, undefined);
    fail("MALFORMED", `${certLabel(anchor)} has a public key sealpost cannot read (${(err as Error).message}).`);
  }
  let workingParams = anchor.keyAlg.oid === OID_DSA_KEY ? anchor.keyAlg.params : undefined;
  let workingIssuer = anchor;
  let maxPathLength = n;
  if (anchor.basicConstraints?.pathLen !== undefined)
    maxPathLength = Math.min(maxPathLength, anchor.basicConstraints.pathLen);
  const constraints = new ConstraintState();
  if (anchor.nameConstraints) constraints.add(anchor.nameConstraints);
  const policy = new PolicyProcessor(n, options);
  let depth = 0;
  let eeKey: KeyObject | undefined;

  for (let i = 1; i <= n; i++) {
    const pc = certs[i - 1] as ParsedCert;
    const last = i === n;
    checkProfile(pc, last ? "ee" : "ca", strict, warnings);
    // (a)(4) name chaining
    if (pc.issuer.key !== workingIssuer.subject.key) {
      fail("UNTRUSTED", `${certLabel(pc)} was not issued by ${certLabel(workingIssuer)} (issuer name does not match).`);
    }
    // (a)(1) signature
    let key: KeyObject;
    try {
      verifySignature(pc.tbs, pc.sigAlg, pc.signature, workingKey, options);
      key = publicKeyFrom(pc.spki, pc.keyAlg.oid === OID_DSA_KEY && !pc.keyAlg.params ? workingParams : undefined);
      checkKeyStrength(key, options);
    } catch (err) {
      if (err instanceof SignatureProblem) sigFailure(err, pc, workingIssuer);
      fail("MALFORMED", `${certLabel(pc)} has a public key sealpost cannot read (${(err as Error).message}).`);
    }
    checks.add(`signature:${describeSigAlg(pc.sigAlg)}`);
    // (a)(2) validity
    checkValidity(pc, time);
    // (b)(c) name constraints
    if (!(pc.selfIssued && !last) && !constraints.empty) {
      for (const name of subjectNames(pc)) {
        const why = constraints.check(name);
        if (why) fail("NAME_CONSTRAINT", `${certLabel(pc)} names a subject its CAs may not certify: ${why}.`);
      }
      checks.add("nameConstraints");
    }
    // (d)-(f) policies
    if (!policy.processCert(i, pc)) {
      fail("POLICY", `${certLabel(pc)} does not carry a certificate policy acceptable along this path.`);
    }
    if (!last) {
      const mapErr = policy.prepareNext(i, pc);
      if (mapErr) fail("POLICY", `${certLabel(pc)} has an invalid policy mapping (${mapErr}).`);
      workingKey = key;
      if (pc.keyAlg.params && !(pc.keyAlg.params.length === 2 && pc.keyAlg.params[0] === 5))
        workingParams = pc.keyAlg.params;
      else if (pc.keyAlg.oid !== workingIssuer.keyAlg.oid) workingParams = undefined;
      workingIssuer = pc;
      if (pc.nameConstraints) constraints.add(pc.nameConstraints);
      checkCa(pc, false);
      if (!pc.selfIssued) {
        if (maxPathLength <= 0) {
          fail(
            "PATH_CONSTRAINT",
            `${certLabel(pc)} is one CA too many: a CA above it limits the path length (pathLenConstraint).`,
          );
        }
        maxPathLength--;
        depth++;
        if (options.maxChainDepth !== undefined && depth > options.maxChainDepth) {
          fail("PATH_CONSTRAINT", `The path has more than ${options.maxChainDepth} intermediate CA certificates.`);
        }
      }
      if (pc.basicConstraints?.pathLen !== undefined && pc.basicConstraints.pathLen < maxPathLength) {
        maxPathLength = pc.basicConstraints.pathLen;
      }
      unknownCritical(pc);
    } else {
      unknownCritical(pc);
      eeKey = key;
    }
  }
  checks.add("validity");
  checks.add("basicConstraints");
  const last = certs[n - 1] ?? anchor;
  const wrap = policy.wrapUp(last);
  if (!wrap)
    fail(
      "POLICY",
      `${certLabel(last)} is not covered by an acceptable certificate policy (explicit policy is required).`,
    );
  checks.add("policy");
  if (n > 0) for (const c of checkEndEntityUsage(last, eeKey, options)) checks.add(c);
  return { userConstrainedPolicySet: wrap.userConstrainedPolicySet, checks: [...checks], warnings };
}

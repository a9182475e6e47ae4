import { verify } from "node:crypto";
import {
  type CertInfo,
  certificateIdentity,
  PkiError,
  parseCertificate,
  sameNameValue,
  type TrustPolicy,
} from "@sealpost/pki";
import { canonicalJson, type ReceiptDto } from "@sealpost/protocol";

/** A receipt as the server returned it, with the outcome of checking it here. */
export interface CheckedReceipt extends ReceiptDto {
  /** True only when every check passed (see checkReceipt). */
  signatureValid: boolean;
  /** The signer's common name from the certificate ("" when it cannot be read). */
  signer: string;
  /** Why the receipt is not valid, or null. */
  problem: string | null;
}

/** An agency as the receipt check knows it: its code and, when known, its registered name. */
export interface ReceiptSide {
  code: string;
  name?: string | undefined;
}

/**
 * What a receipt of a case must name and who may sign it: the case id (the one the user asked for), the SHA-256 of
 * the case's sealed files, and the agency whose staff receive each kind of file (payload: the receiving agency;
 * result: the sending agency).
 */
export interface ReceiptExpectation {
  caseId: string;
  sha256: { payload?: string | undefined; result?: string | undefined };
  signers: { payload: ReceiptSide; result: ReceiptSide };
}

/**
 * Why `cert` is not a certificate of `side`'s staff, or undefined when it is: its subject must carry an O or OU
 * attribute equal to the agency's code or registered name (the attributes agency subject rules name, e.g.
 * "O=高雄市稅捐稽徵處", "OU=KHH-TAX"), compared as sameNameValue does.
 */
export function signerSideProblem(cert: CertInfo, side: ReceiptSide): string | undefined {
  let values: string[];
  try {
    values = certificateIdentity(cert)
      .attributes.filter((a) => a.attribute === "O" || a.attribute === "OU")
      .map((a) => a.value);
  } catch {
    return "the signer's certificate subject is not readable";
  }
  const wanted = [side.code, ...(side.name ? [side.name] : [])];
  if (values.some((v) => wanted.some((w) => sameNameValue(v, w)))) return undefined;
  return `the signer's certificate (${cert.subject}) is not of ${side.code}${side.name ? ` ${side.name}` : ""}, the agency that receives this file`;
}

/**
 * Checks a receipt without trusting the server that returned it: the certificate is the one it names
 * (certSha256), the statement is a sealpost receipt for `expected.caseId` whose hash is the case's file of that
 * kind, the signature over canonicalJson(statement) verifies with the certificate, it is a signing certificate that
 * validates now with the user's own trust policy (the receipt's time is the signer's claim: it is shown, never used
 * to validate), and it is one of the agency that receives that kind of file (`expected.signers`, see
 * signerSideProblem). Never throws for a bad receipt: the first failed check is returned as `problem`.
 */
export async function checkReceipt(
  r: ReceiptDto,
  expected: ReceiptExpectation,
  trust: { policy: TrustPolicy; intermediates: CertInfo[] },
): Promise<CheckedReceipt> {
  const done = (signer: string, problem: string | null): CheckedReceipt => ({
    ...r,
    signatureValid: problem === null,
    signer,
    problem,
  });
  let cert: CertInfo;
  try {
    cert = parseCertificate(r.certificatePem);
  } catch {
    return done("", "the signer's certificate is not readable");
  }
  const signer = cert.commonName;
  if (cert.sha256 !== String(r.certSha256).toLowerCase()) {
    return done(signer, "the certificate is not the one the receipt names");
  }
  const st = r.statement;
  if (st?.type !== "sealpost-receipt" || (st.kind !== "payload" && st.kind !== "result")) {
    return done(signer, "the statement is not a sealpost receipt");
  }
  if (st.caseId !== expected.caseId) return done(signer, `the receipt is for case ${String(st.caseId)}`);
  const want = expected.sha256[st.kind];
  if (!want || st.sha256 !== want) return done(signer, `the receipt's SHA-256 is not the case's ${st.kind} file`);
  let ok = false;
  try {
    ok = verify("sha256", Buffer.from(canonicalJson(st), "utf8"), cert.publicKey, Buffer.from(r.signature, "base64"));
  } catch {
    ok = false;
  }
  if (!ok) return done(signer, "the signature does not verify with the certificate");
  if (Number.isNaN(new Date(st.time).getTime())) return done(signer, "the receipt's time is not a valid time");
  try {
    await trust.policy.validate(cert, { purpose: "sign", intermediates: trust.intermediates });
  } catch (e) {
    if (e instanceof PkiError) return done(signer, `the signer's certificate is not trusted here now (${e.code})`);
    throw e;
  }
  // Only a trusted certificate's subject says anything about its holder's agency.
  const side = signerSideProblem(cert, expected.signers[st.kind]);
  if (side) return done(signer, side);
  return done(signer, null);
}

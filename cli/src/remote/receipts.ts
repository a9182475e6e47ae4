import { verify } from "node:crypto";
import { type CertInfo, PkiError, parseCertificate, type TrustPolicy } from "@sealpost/pki";
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

/** What a receipt of a case must name: the case id and the SHA-256 of the case's sealed files. */
export interface ReceiptExpectation {
  caseId: string;
  sha256: { payload?: string | undefined; result?: string | undefined };
}

/**
 * Checks a receipt without trusting the server that returned it: the certificate is the one it names
 * (certSha256), it is a signing certificate that validates with the user's own trust policy at the receipt's
 * time, the statement is a sealpost receipt for `expected.caseId` whose hash is the case's file of that kind, and
 * the signature over canonicalJson(statement) verifies with the certificate. Never throws for a bad receipt: the
 * first failed check is returned as `problem`.
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
  const time = new Date(st.time);
  if (Number.isNaN(time.getTime())) return done(signer, "the receipt's time is not a valid time");
  try {
    await trust.policy.validate(cert, { purpose: "sign", intermediates: trust.intermediates, time });
  } catch (e) {
    if (e instanceof PkiError) return done(signer, `the signer's certificate is not trusted here (${e.code})`);
    throw e;
  }
  return done(signer, null);
}

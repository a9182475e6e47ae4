import type { CertificateCheckDto, CertificateCheckRequest } from "@sealpost/protocol";
import { type CertInfo, parseCertificates } from "@sealpost/pki";
import type { Clock } from "../clock.js";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import { type CertificateValidator, purposeOf } from "./certificates.js";

const DAY_MS = 86_400_000;

/**
 * What an admin sees of a certificate before registering it (POST /v1/admin/certificates/check): the fields, the
 * purpose (asked for, else the one its keyUsage allows), and the outcome of the validation registration runs (the
 * same validator: chain to the trust anchors with the PEM's chain and the configured intermediates, key usage,
 * validity now, revocation). A rejection is reported in `problem`, not thrown; unreadable PEM is BAD_REQUEST.
 * Reads only: nothing is stored or audited.
 */
export async function checkCertificate(
  deps: { db: Db; clock: Clock; validator: CertificateValidator },
  body: CertificateCheckRequest,
): Promise<CertificateCheckDto> {
  const asked = body?.purpose;
  if (asked !== undefined && asked !== "sign" && asked !== "encrypt") {
    throw new ServerError("BAD_REQUEST", "purpose must be sign or encrypt.");
  }
  let certs: CertInfo[];
  try {
    certs = parseCertificates(body?.pem ?? "");
  } catch (e) {
    throw new ServerError("BAD_REQUEST", "The certificate is not readable PEM.", { cause: e });
  }
  const [cert, ...chain] = certs;
  if (!cert) throw new ServerError("BAD_REQUEST", "No certificate in the PEM text.");
  const purpose = asked ?? purposeOf(cert) ?? null;
  let problem: CertificateCheckDto["problem"];
  if (purpose === null) {
    problem = { code: "KEY_USAGE", message: "The certificate allows neither signing nor key encipherment." };
  } else {
    try {
      await deps.validator.validate(cert, purpose, chain);
    } catch (e) {
      if (!(e instanceof ServerError) || e.code !== "CERT_REJECTED") throw e;
      const pkiCode = (e.details as { pkiCode?: unknown } | undefined)?.pkiCode;
      problem = { code: typeof pkiCode === "string" ? pkiCode : "CERT_REJECTED", message: e.message };
    }
  }
  const registered = await deps.db.read(async (uow) => (await uow.registry.certificate(cert.sha256)) !== undefined);
  return {
    sha256: cert.sha256,
    subject: cert.subject,
    commonName: cert.commonName,
    issuer: cert.issuer,
    serialHex: cert.serialHex,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    daysLeft: Math.floor((cert.notAfter.getTime() - deps.clock.now().getTime()) / DAY_MS),
    keyUsage: [...(cert.keyUsage ?? [])],
    keyType: cert.keyType,
    ...(cert.keyBits !== undefined ? { keyBits: cert.keyBits } : {}),
    purpose,
    trusted: problem === undefined,
    ...(problem ? { problem } : {}),
    registered,
  };
}

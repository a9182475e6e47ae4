import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import {
  type Node,
  bytesEqual,
  content,
  decode,
  expectSeq,
  intOf,
  isContext,
  isUniversal,
  kids,
  OCSP_LIMITS,
  octetsOf,
  oidOf,
  raw,
  timeOf,
} from "./der.js";
import type { OcspStatus } from "./engine.js";
import { CRL_REASONS } from "./crl.js";
import { commonNameOf, displayName, parseName } from "./names.js";
import { type AlgorithmPolicy, publicKeyFrom, verifySignature } from "./signature.js";
import { httpExchange } from "./http.js";
import { OID, type ParsedCert, parseAlgId, parseCert } from "./x509.js";

const OID_SHA1 = "1.3.14.3.2.26";
const OID_BASIC_RESPONSE = "1.3.6.1.5.5.7.48.1.1";
const OID_NONCE = "1.3.6.1.5.5.7.48.1.2";

export interface OcspClientOptions {
  timeoutMs: number;
  /** Answers without nextUpdate are accepted this long after thisUpdate. */
  maxAgeSeconds: number;
  /** Algorithm rules for the responder's signature. */
  algorithms: AlgorithmPolicy;
  /** Largest answer accepted, bytes. Default 1 MiB. */
  maxBytes?: number;
  /** Maps the AIA responder URL before use (mirror, proxy, tests). */
  rewriteUrl?: ((url: string) => string) | undefined;
}

/** The CertID of RFC 6960 4.1.1 with SHA-1 (what every responder supports). */
export function certIdParts(_cert: ParsedCert, issuer: ParsedCert): { nameHash: Buffer; keyHash: Buffer } {
  return {
    nameHash: createHash("sha1").update(issuer.subject.der).digest(),
    keyHash: createHash("sha1").update(issuer.publicKeyBits).digest(),
  };
}

function serialInteger(cert: ParsedCert): asn1js.Integer {
  return new asn1js.Integer({ valueHex: cert.serialBytes.slice().buffer });
}

/** Builds a DER OCSPRequest for one certificate, with a nonce extension. */
export function buildOcspRequest(cert: ParsedCert, issuer: ParsedCert, nonce: Uint8Array): Uint8Array {
  const { nameHash, keyHash } = certIdParts(cert, issuer);
  const certId = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID_SHA1 }), new asn1js.Null()] }),
      new asn1js.OctetString({ valueHex: new Uint8Array(nameHash).buffer }),
      new asn1js.OctetString({ valueHex: new Uint8Array(keyHash).buffer }),
      serialInteger(cert),
    ],
  });
  const nonceExt = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: OID_NONCE }),
      new asn1js.OctetString({ valueHex: new asn1js.OctetString({ valueHex: nonce.slice().buffer }).toBER() }),
    ],
  });
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [certId] })] }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 2 },
        value: [new asn1js.Sequence({ value: [nonceExt] })],
      }),
    ],
  });
  return new Uint8Array(new asn1js.Sequence({ value: [tbs] }).toBER());
}

interface SingleResponse {
  nameHash: Uint8Array;
  keyHash: Uint8Array;
  hashOid: string;
  serial: bigint;
  status: "good" | "revoked" | "unknown";
  revocationTime: Date | undefined;
  reason: string | undefined;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

interface BasicResponse {
  tbs: Uint8Array;
  sigAlg: ReturnType<typeof parseAlgId>;
  signature: Uint8Array;
  responderName: ReturnType<typeof parseName> | undefined;
  responderKeyHash: Uint8Array | undefined;
  responses: SingleResponse[];
  nonce: Uint8Array | undefined;
  certs: ParsedCert[];
}

const RESPONSE_STATUS: Record<number, string> = {
  1: "malformedRequest",
  2: "internalError",
  3: "tryLater",
  5: "sigRequired",
  6: "unauthorized",
};

/** Parses an OCSPResponse; throws Error with a readable reason when it is not a successful basic response. */
export function parseOcspResponse(der: Uint8Array): BasicResponse {
  const top = expectSeq(decode(der, OCSP_LIMITS), "OCSPResponse");
  const st = top[0] as Node;
  if (!isUniversal(st, 10)) throw new Error("not an OCSP response");
  const code = content(st)[0] as number;
  if (code !== 0) throw new Error(`the responder refused: ${RESPONSE_STATUS[code] ?? `status ${code}`}`);
  const rb = expectSeq(kids(top[1] as Node)[0], "ResponseBytes");
  if (oidOf(rb[0]) !== OID_BASIC_RESPONSE) throw new Error("not a basic OCSP response");
  const basic = expectSeq(decode(octetsOf(rb[1]), OCSP_LIMITS), "BasicOCSPResponse");
  const tbsNode = basic[0] as Node;
  const rd = expectSeq(tbsNode, "ResponseData");
  let i = 0;
  if (isContext(rd[0], 0)) i++;
  const rid = rd[i++] as Node;
  let responderName: BasicResponse["responderName"];
  let responderKeyHash: Uint8Array | undefined;
  if (isContext(rid, 1)) responderName = parseName(kids(rid)[0] as Node);
  else if (isContext(rid, 2)) responderKeyHash = octetsOf(kids(rid)[0]);
  else throw new Error("bad responderID");
  i++; // producedAt
  const responses: SingleResponse[] = expectSeq(rd[i++], "responses").map((sr) => {
    const f = expectSeq(sr, "SingleResponse");
    const cid = expectSeq(f[0], "CertID");
    const csNode = f[1] as Node;
    let status: SingleResponse["status"];
    let revocationTime: Date | undefined;
    let reason: string | undefined;
    if (isContext(csNode, 0)) status = "good";
    else if (isContext(csNode, 1)) {
      status = "revoked";
      const ri = kids(csNode);
      revocationTime = timeOf(ri[0], "revocationTime");
      if (ri[1]) reason = CRL_REASONS[content(kids(ri[1])[0] as Node)[0] as number] ?? "unspecified";
      else reason = "unspecified";
    } else if (isContext(csNode, 2)) status = "unknown";
    else throw new Error("bad certStatus");
    let nextUpdate: Date | undefined;
    for (const extra of f.slice(3)) if (isContext(extra, 0)) nextUpdate = timeOf(kids(extra)[0], "nextUpdate");
    return {
      hashOid: oidOf(expectSeq(cid[0], "hashAlgorithm")[0]),
      nameHash: octetsOf(cid[1]),
      keyHash: octetsOf(cid[2]),
      serial: intOf(cid[3]),
      status,
      revocationTime,
      reason,
      thisUpdate: timeOf(f[2], "thisUpdate"),
      nextUpdate,
    };
  });
  let nonce: Uint8Array | undefined;
  for (; i < rd.length; i++) {
    if (isContext(rd[i], 1)) {
      for (const e of expectSeq(kids(rd[i] as Node)[0], "responseExtensions")) {
        const parts = expectSeq(e, "Extension");
        if (oidOf(parts[0]) === OID_NONCE) {
          const v = octetsOf(parts[parts.length - 1]);
          try {
            nonce = octetsOf(decode(v));
          } catch {
            nonce = v;
          }
        }
      }
    }
  }
  const certs: ParsedCert[] = [];
  if (basic[3] && isContext(basic[3], 0)) {
    for (const c of expectSeq(kids(basic[3])[0], "certs")) certs.push(parseCert(raw(c)));
  }
  return {
    tbs: raw(tbsNode),
    sigAlg: parseAlgId(basic[1], "signatureAlgorithm"),
    signature: content(basic[2] as Node).subarray(1),
    responderName,
    responderKeyHash,
    responses,
    nonce,
    certs,
  };
}

function responderMatches(r: BasicResponse, c: ParsedCert): boolean {
  if (r.responderName) return r.responderName.key === c.subject.key;
  if (r.responderKeyHash) return bytesEqual(r.responderKeyHash, createHash("sha1").update(c.publicKeyBits).digest());
  return false;
}

/**
 * An OCSP client (RFC 6960): POSTs a request with a nonce to the certificate's AIA responder, and accepts the
 * answer only when it is signed by the issuing CA itself or by a responder certificate issued by that CA with
 * id-kp-OCSPSigning, answers for exactly this certificate, echoes the nonce (when it carries one), and is fresh
 * (nextUpdate not passed; without nextUpdate, thisUpdate no older than maxAgeSeconds).
 */
export class OcspClient {
  requests = 0;
  constructor(private readonly options: OcspClientOptions) {}

  async status(cert: ParsedCert, issuer: ParsedCert, now: Date): Promise<OcspStatus> {
    const errors: string[] = [];
    const rewrite = this.options.rewriteUrl ?? ((u: string) => u);
    for (const url of cert.ocspUrls.map(rewrite)) {
      try {
        return await this.ask(url, cert, issuer, now);
      } catch (err) {
        errors.push(`OCSP at ${url}: ${(err as Error).message}`);
      }
    }
    return { status: "unavailable", why: errors.join("; ") || "no OCSP responder is named in the certificate" };
  }

  private async ask(url: string, cert: ParsedCert, issuer: ParsedCert, now: Date): Promise<OcspStatus> {
    const nonce = randomBytes(16);
    const req = buildOcspRequest(cert, issuer, nonce);
    this.requests++;
    const body = await httpExchange(
      url,
      { timeoutMs: this.options.timeoutMs, maxBytes: this.options.maxBytes ?? 1024 * 1024 },
      { contentType: "application/ocsp-request", data: req },
    );
    const r = parseOcspResponse(body);
    // Who signed it: the CA itself, or a delegated responder certified by the CA.
    let signer: ParsedCert | undefined;
    if (responderMatches(r, issuer)) signer = issuer;
    else {
      for (const c of r.certs) {
        if (!responderMatches(r, c)) continue;
        if (c.issuer.key !== issuer.subject.key) continue;
        try {
          verifySignature(c.tbs, c.sigAlg, c.signature, publicKeyFrom(issuer.spki), this.options.algorithms);
        } catch {
          continue;
        }
        if (!c.extKeyUsage?.includes(OID.ekuOcspSigning)) continue;
        if (now < c.notBefore || now > c.notAfter) continue;
        if (c.keyUsage && !c.keyUsage.has("digitalSignature") && !c.keyUsage.has("nonRepudiation")) continue;
        signer = c;
        break;
      }
    }
    if (!signer) throw new Error("the answer is not signed by the issuing CA or a responder it authorised");
    try {
      verifySignature(r.tbs, r.sigAlg, r.signature, publicKeyFrom(signer.spki), this.options.algorithms);
    } catch (err) {
      throw new Error(`the answer's signature does not verify (${(err as Error).message})`);
    }
    if (r.nonce && !bytesEqual(r.nonce, nonce))
      throw new Error("the answer carries another request's nonce (possible replay)");
    const { nameHash, keyHash } = certIdParts(cert, issuer);
    const single = r.responses.find(
      (s) =>
        s.hashOid === OID_SHA1 &&
        bytesEqual(s.nameHash, nameHash) &&
        bytesEqual(s.keyHash, keyHash) &&
        s.serial === cert.serial,
    );
    if (!single) throw new Error("the answer is about another certificate");
    const skew = 5 * 60_000;
    if (single.thisUpdate.getTime() > now.getTime() + skew) throw new Error("the answer is dated in the future");
    if (single.nextUpdate && single.nextUpdate.getTime() < now.getTime() - skew) {
      throw new Error(`the answer is stale (its nextUpdate ${single.nextUpdate.toISOString()} has passed)`);
    }
    if (!single.nextUpdate && now.getTime() - single.thisUpdate.getTime() > this.options.maxAgeSeconds * 1000) {
      throw new Error(`the answer is older than ${this.options.maxAgeSeconds} s`);
    }
    const responder = `${url} (${commonNameOf(signer.subject) ?? displayName(signer.subject)})`;
    if (single.status === "good") return { status: "good", thisUpdate: single.thisUpdate, responder };
    if (single.status === "revoked") {
      return {
        status: "revoked",
        thisUpdate: single.thisUpdate,
        revocationDate: single.revocationTime as Date,
        reason: single.reason ?? "unspecified",
        responder,
      };
    }
    return { status: "unknown", why: `${responder} does not know this certificate` };
  }
}

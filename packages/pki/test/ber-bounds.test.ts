import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BerError, decodeBer, scanBer } from "../src/ber.js";
import { parseCertificate, parseCertificates } from "../src/cert.js";
import { PkiError } from "../src/errors.js";
import { nameToString, parseName } from "../src/names.js";
import { parseCrl } from "../src/trust/crl.js";
import { CRL_LIMITS } from "../src/trust/der.js";
import { copyCaDb, genCrl } from "./ca-db.js";
import { createTrustPolicy } from "../src/trust/index.js";
import { parseOcspResponse } from "../src/trust/ocsp.js";

/**
 * The bounded BER decoder under the pki parsers: limits on bytes, elements and nesting, checked before anything
 * large is built (and before asn1js/pkijs see a certificate); large legitimate CRLs, which asn1js's default cap of
 * 10,000 elements refused, parse.
 */

const pki = resolve(import.meta.dirname, "../../../fixtures/pki");
const tmp = mkdtempSync(join(tmpdir(), "sealpost-ber-bounds-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
/** A SEQUENCE of `n` empty SEQUENCEs. */
const flat = (n: number) => tlv(0x30, Buffer.alloc(2 * n).fill(Buffer.from([0x30, 0x00])));

function limitError(f: () => unknown): BerError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BerError);
    return e as BerError;
  }
  throw new Error("no error");
}

describe("decodeBer / scanBer", () => {
  it("refuse more bytes, elements or depth than the limits, naming the limit", () => {
    const limits = { maxBytes: 1000, maxNodes: 100, maxDepth: 8 };
    expect(decodeBer(flat(99), limits).children).toHaveLength(99);
    expect(scanBer(flat(99), limits)).toBe(100);
    expect(limitError(() => decodeBer(flat(100), limits))).toMatchObject({ reason: "limit" });
    expect(limitError(() => scanBer(flat(100), limits)).message).toContain("more than 100 elements");
    expect(limitError(() => decodeBer(Buffer.alloc(1001), limits)).message).toContain("limit of 1000");
    let deep = Buffer.alloc(0);
    for (let i = 0; i < 10; i++) deep = tlv(0x30, deep);
    expect(limitError(() => scanBer(deep, limits)).message).toContain("nested more than 8 deep");
    expect(limitError(() => decodeBer(Buffer.from([0x30, 0x05, 0x02]), limits)).reason).toBe("malformed");
    expect(limitError(() => decodeBer(Buffer.from([0x30, 0x80, 0x30, 0x00]), limits)).reason).toBe("malformed");
  });

  it("indefinite lengths, high tag numbers and views of the input", () => {
    const b = Buffer.from("3080 bf8a3b03 020105 0000".replace(/ /g, ""), "hex");
    const n = decodeBer(b, { maxBytes: 100, maxNodes: 10 });
    expect(n.indefinite).toBe(true);
    expect(n.children[0]!.tagNumber).toBe(1339);
    expect(n.children[0]!.children[0]!.content).toEqual(Buffer.from([5]));
    expect(n.raw.buffer).toBe(b.buffer);
  });
});

describe("pki parsers stay within their limits", () => {
  it("a certificate-shaped input with 9,000 elements is MALFORMED before asn1js sees it", () => {
    const c0 = process.cpuUsage();
    const e = (() => {
      try {
        parseCertificate(new Uint8Array(flat(9000)));
      } catch (err) {
        return err as PkiError;
      }
    })();
    expect(e).toBeInstanceOf(PkiError);
    expect(e!.code).toBe("MALFORMED");
    expect(e!.message).toContain("more than 8192 elements");
    const c = process.cpuUsage(c0);
    expect(c.user + c.system).toBeLessThan(2_000_000); // a scan, not a parse (generous: shared machine)
    expect(() => parseCertificates(new Uint8Array(tlv(0x30, Buffer.alloc(2 * 1024 * 1024))))).toThrow(PkiError);
  });

  it("a Name of 5,000 attributes is MALFORMED; real names render", () => {
    const atv = tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from("0603550403", "hex"), tlv(0x0c, Buffer.from("x"))])));
    const huge = tlv(0x30, Buffer.concat(Array(5000).fill(atv)));
    expect(() => parseName(new Uint8Array(huge))).toThrow(PkiError);
    expect(nameToString(new Uint8Array(tlv(0x30, atv)))).toBe("CN=x");
  });

  it("an OCSP response over 1 MiB and a CRL over its element limit are refused", () => {
    expect(() => parseOcspResponse(new Uint8Array(tlv(0x30, Buffer.alloc(1100 * 1024))))).toThrow(/limit of 1048576/);
    expect(() => parseCrl(new Uint8Array(flat(CRL_LIMITS.maxNodes)))).toThrow(/more than 400000 elements/);
  });

  it("a GCA CRL listing 20,000 revoked certificates parses and revokes (asn1js's default cap refused it)", async () => {
    const db = join(tmp, "big-crl");
    const extra: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const serial = (0x100000 + i).toString(16).toUpperCase();
      extra.push(`R\t20991231235959Z\t250101000000Z,keyCompromise\t${serial}\tunknown\t/CN=test revoked ${i}`);
    }
    copyCaDb(db, (index) => `${index.trimEnd()}\n${extra.join("\n")}\n`);
    writeFileSync(join(db, "index.txt.attr"), "unique_subject = no\n");
    const crl = genCrl(db, 2);
    const cert = (p: string) => parseCertificate(new Uint8Array(readFileSync(join(pki, p))));
    const policy = createTrustPolicy({
      anchors: [cert("root/grca.cert.pem")],
      intermediates: [cert("intermediate/gca.cert.pem")],
      crls: [crl, new Uint8Array(readFileSync(join(pki, "root/grca.crl.pem")))],
    });
    await expect(policy.validate(cert("troubled/revoked/cert.pem"))).rejects.toMatchObject({ code: "REVOKED" });
    const ok = await policy.validate(cert("people/soc-chen/sign.cert.pem"));
    expect(ok.revocation?.source).toBe("crl");
  });
});

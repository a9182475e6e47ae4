import { createHash, createPrivateKey, generateKeyPair, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { promisify } from "node:util";
import { type KeyEntry, parseCertificate } from "@sealpost/pki";
import { beforeAll, describe, expect, it } from "vitest";
import { NULL_DER, encodeInteger, encodeOid, encodeTime, octetString, seq, tlv, utf8String } from "../src/ber/der.js";
import { inspect, openStream, seal } from "../src/index.js";
import { collect, intermediate, manifest, pattern, person, pkiDir, root, testTrust } from "./helpers.js";

const gcaKey = createPrivateKey(readFileSync(join(pkiDir, "intermediate/gca.key.pem")));

/** An encryption certificate issued by the test GCA for `publicKey` (keyUsage keyEncipherment, SKI). */
function issueEncryptionCert(publicKey: KeyObject, serial: number, cn: string): Uint8Array {
  const sha256Rsa = seq(encodeOid("1.2.840.113549.1.1.11"), NULL_DER);
  const spki = publicKey.export({ type: "spki", format: "der" });
  const ski = createHash("sha1").update(spki).digest();
  const name = seq(
    tlv(0x31, seq(encodeOid("2.5.4.6"), tlv(0x13, Buffer.from("TW")))),
    tlv(0x31, seq(encodeOid("2.5.4.10"), utf8String("高雄市稅捐稽徵處"))),
    tlv(0x31, seq(encodeOid("2.5.4.3"), utf8String(cn))),
  );
  const ext = seq(
    seq(encodeOid("2.5.29.15"), tlv(0x01, Buffer.from([0xff])), octetString(tlv(0x03, Buffer.from([0x05, 0x20])))),
    seq(encodeOid("2.5.29.14"), octetString(octetString(ski))),
  );
  const tbs = seq(
    tlv(0xa0, encodeInteger(2)),
    encodeInteger(0x500000 + serial),
    sha256Rsa,
    Buffer.from(intermediate.subjectDer),
    seq(encodeTime(new Date("2025-01-01T00:00:00Z")), encodeTime(new Date("2049-12-31T00:00:00Z"))),
    name,
    spki,
    tlv(0xa3, ext),
  );
  const sig = sign("sha256", tbs, gcaKey);
  return seq(tbs, sha256Rsa, tlv(0x03, Buffer.concat([Buffer.from([0]), sig])));
}

describe("50 recipients", () => {
  const keys: KeyEntry[] = [];
  beforeAll(async () => {
    const gen = promisify(generateKeyPair);
    // the 8 fixture people's encryption keys plus 42 generated ones: 50 distinct recipients
    for (const id of Object.keys(manifest.people)) keys.push(person(id).encrypt);
    const pairs = await Promise.all(
      Array.from({ length: 50 - keys.length }, () => gen("rsa", { modulusLength: 2048 })),
    );
    pairs.forEach(({ publicKey, privateKey }, i) => {
      const cert = parseCertificate(issueEncryptionCert(publicKey, i, `測試收件人 ${i + 1}`));
      keys.push({ cert, privateKey, chain: [intermediate, root] });
    });
    expect(new Set(keys.map((k) => k.cert.sha256)).size).toBe(50);
  }, 120_000);

  it("every one of the 50 opens the file (issuerAndSerial and SKI)", async () => {
    const data = pattern(70_000, 50);
    const chen = person("soc-chen");
    for (const recipientIdentifier of ["issuerAndSerialNumber", "subjectKeyIdentifier"] as const) {
      const out = new PassThrough();
      const [res, sealed] = await Promise.all([
        seal(Readable.from([data]), out, {
          recipients: keys.map((k) => k.cert),
          signer: chen.sign,
          recipientIdentifier,
        }),
        collect(out),
      ]);
      expect(res.recipients).toHaveLength(50);
      const ins = await inspect(Readable.from([sealed]));
      expect(ins.recipients).toHaveLength(50);
      for (const k of keys) {
        const parts: Buffer[] = [];
        const r = await openStream(Readable.from([sealed]), async (b) => void parts.push(b), {
          keys: [k],
          trust: testTrust(),
        });
        expect(Buffer.concat(parts).equals(data)).toBe(true);
        expect(r.recipient.serialHex).toBe(k.cert.serialHex);
      }
    }
  });
});

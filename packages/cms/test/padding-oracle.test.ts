import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KeyEntry } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode, encodeOid, octetString, seq, tlv } from "../src/ber/der.js";
import { BerReader, ByteSource } from "../src/ber/reader.js";
import { OID, type SealOptions, openFile, openStream, sealFile } from "../src/index.js";
import { pattern, person, tempDir, testTrust } from "./helpers.js";

/**
 * The CBC padding oracle, written as the attack: an attacker who can hand a recipient modified copies of one sealed
 * file and see how each open fails must learn nothing about the plaintext. The classic attack takes two ciphertext
 * blocks (C[k-1], C[k]) of a CBC file, sends C[k] alone with a chosen IV, and tries the 256 values of the IV's last
 * byte: only the value that gives valid padding (plaintext byte 0x01) fails differently, which reveals the last
 * byte of the secret plaintext block P[k]. Here every try must fail alike (one code, one message, same details),
 * and the input must be read to its end whatever went wrong (no early exit that differs by failure kind).
 */
const chen = person("soc-chen");
const wang = person("tax-wang");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const content = pattern(300_000, 11);

interface Parsed {
  /** Raw DER of the version INTEGER and of the RecipientInfos SET (copied into forged files). */
  version: Buffer;
  recipientInfos: Buffer;
  contentType: string;
  cipherOid: string;
  /** IV (CBC) or the whole GCM parameters. */
  params: Buffer;
  ciphertext: Buffer;
  mac?: Buffer;
}

/** Pulls a sealed file apart with the project's own BER reader. */
async function parse(buf: Buffer): Promise<Parsed> {
  const r = new BerReader(ByteSource.from([buf]));
  await r.readHeader(); // ContentInfo
  const ct = decode(await r.readElement());
  await r.readHeader(); // [0]
  await r.readHeader(); // Enveloped / AuthEnvelopedData
  const version = await r.readElement();
  const recipientInfos = await r.readElement();
  await r.readHeader(); // EncryptedContentInfo
  await r.readElement(); // content type
  const alg = decode(await r.readElement());
  const ec = await r.readHeader();
  const parts: Buffer[] = [];
  for await (const c of r.stringChunks(ec, "ciphertext")) parts.push(Buffer.from(c));
  const out: Parsed = {
    version,
    recipientInfos,
    contentType: ct.content.length ? decodeOidOf(ct) : "",
    cipherOid: decodeOidOf(alg.children[0]!),
    params: alg.children[1]!.raw,
    ciphertext: Buffer.concat(parts),
  };
  await r.atEnd(ec);
  if (buf[r.position] === 0x04) out.mac = decode(await r.readElement()).content;
  return out;
}

function decodeOidOf(n: { content: Buffer }): string {
  const b = n.content;
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (const x of b.subarray(1)) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** A definite-length sealed file from parts (the recipient info, hence the content key, is the original's). */
function build(p: Parsed, params: Buffer, ciphertext: Buffer, mac?: Buffer): Buffer {
  const eci = seq(encodeOid(OID.data), seq(encodeOid(p.cipherOid), params), tlv(0x80, ciphertext));
  const env = seq(p.version, p.recipientInfos, eci, ...(mac ? [octetString(mac)] : []));
  return seq(encodeOid(p.contentType), tlv(0xa0, env));
}

async function sealed(opts: Partial<SealOptions>): Promise<Buffer> {
  const inPath = join(tmp.dir, "in.bin");
  writeFileSync(inPath, content);
  const out = join(tmp.dir, `sealed-${opts.cipher ?? "gcm"}.p7m`);
  await sealFile(inPath, out, { recipients: [wang.encrypt.cert], signer: chen.sign, force: true, ...opts });
  const { readFileSync } = await import("node:fs");
  return readFileSync(out);
}

interface Outcome {
  code: string;
  message: string;
  hint: string | undefined;
  details: string;
  consumed: number;
  total: number;
  sunk: number;
}

/** Opens `file` through openStream, counting what was pulled from the input and what reached the sink. */
async function attempt(file: Buffer, keys: KeyEntry[] = [wang.encrypt]): Promise<Outcome> {
  let consumed = 0;
  let sunk = 0;
  const input = (async function* () {
    for (let off = 0; off < file.length; off += 4096) {
      const piece = file.subarray(off, off + 4096);
      consumed += piece.length;
      yield piece;
    }
  })();
  try {
    await openStream(
      input,
      async (b) => {
        sunk += b.length;
      },
      { keys, trust: testTrust() },
    );
  } catch (e) {
    const err = e as { code: string; message: string; hint?: string; details?: unknown };
    return {
      code: err.code,
      message: err.message,
      hint: err.hint,
      details: JSON.stringify(err.details ?? null),
      consumed,
      total: file.length,
      sunk,
    };
  }
  throw new Error(`the forged file opened (sunk ${sunk})`);
}

/** What an observer of the failures can tell apart: code, message, hint, details. */
const visible = (o: Outcome) => ({ code: o.code, message: o.message, hint: o.hint, details: o.details });

describe("CBC padding oracle (EnvelopedData, AES-256-CBC)", () => {
  let p: Parsed;
  beforeAll(async () => {
    p = await parse(await sealed({ cipher: "aes-256-cbc" }));
    expect(p.cipherOid).toBe("2.16.840.1.101.3.4.1.42");
  });

  it("256 IV tries against one secret block all fail alike: no plaintext byte is recovered", async () => {
    const blocks = p.ciphertext.length / 16;
    const k = Math.floor(blocks / 2); // a block deep inside the content
    const prev = p.ciphertext.subarray((k - 1) * 16, k * 16);
    const target = p.ciphertext.subarray(k * 16, (k + 1) * 16);
    const outcomes: Outcome[] = [];
    for (let g = 0; g < 256; g++) {
      const iv = Buffer.from(prev);
      iv[15] = prev[15]! ^ g ^ 0x01; // valid padding (0x01) exactly when the secret byte is g
      outcomes.push(await attempt(build(p, octetString(iv), target)));
    }
    const first = visible(outcomes[0]!);
    const distinct = outcomes.map((o, g) => ({ g, same: JSON.stringify(visible(o)) === JSON.stringify(first) }));
    const recovered = distinct.filter((d) => !d.same).map((d) => d.g);
    expect(recovered).toEqual([]);
    expect(first.code).toBe("TAMPERED");
    expect(first.details).toBe("null");
    for (const o of outcomes) expect(o.consumed).toBe(o.total);
  });

  it("a garbled first block, a garbled middle, bad padding and a wrong content key fail alike after reading everything", async () => {
    const ct = p.ciphertext;
    const ivNode = decode(p.params);
    const flipped = (at: number) => {
      const b = Buffer.from(ct);
      b[at]! ^= 0x40;
      return b;
    };
    const iv = Buffer.from(ivNode.content);
    iv[3]! ^= 0x20; // the SignedData header: the inner structure breaks at its first bytes
    const lee = person("tax-lee");
    const liar: KeyEntry = { cert: wang.encrypt.cert, privateKey: lee.encrypt.privateKey, chain: [] };
    const tries = {
      "header (IV)": await attempt(build(p, octetString(iv), ct)),
      "middle block": await attempt(build(p, p.params, flipped(Math.floor(ct.length / 2)))),
      "padding (last block)": await attempt(build(p, p.params, flipped(ct.length - 17))),
      "wrong key (OAEP fails)": await attempt(build(p, p.params, ct), [liar]),
    };
    const shown = Object.values(tries).map((o) => JSON.stringify(visible(o)));
    expect(new Set(shown).size).toBe(1);
    for (const [name, o] of Object.entries(tries)) {
      expect([name, o.consumed]).toEqual([name, o.total]);
      // the content keeps flowing through the same work (hash and sink) after the structure broke
      expect([name, o.sunk]).toEqual([name, expect.any(Number)]);
      if (name !== "padding (last block)") expect(o.sunk).toBeGreaterThan(content.length - 16 * 1024);
    }
  });
});

describe("the same discipline for AES-GCM (AuthEnvelopedData)", () => {
  let p: Parsed;
  beforeAll(async () => {
    p = await parse(await sealed({}));
    expect(p.mac).toBeDefined();
  });

  it("a bit flipped in the first block (inner header), in the middle, in the tag, or a wrong key: one failure, same work", async () => {
    const ct = p.ciphertext;
    const flipped = (at: number) => {
      const b = Buffer.from(ct);
      b[at]! ^= 0x01;
      return b;
    };
    const mac = Buffer.from(p.mac!);
    mac[0]! ^= 0x01;
    const lee = person("tax-lee");
    const liar: KeyEntry = { cert: wang.encrypt.cert, privateKey: lee.encrypt.privateKey, chain: [] };
    const tries = {
      "inner header": await attempt(build(p, p.params, flipped(1), p.mac)),
      middle: await attempt(build(p, p.params, flipped(Math.floor(ct.length / 2)), p.mac)),
      tag: await attempt(build(p, p.params, ct, mac)),
      "short tag": await attempt(build(p, p.params, ct, p.mac!.subarray(0, 15))),
      "wrong key": await attempt(build(p, p.params, ct, p.mac), [liar]),
    };
    const shown = Object.values(tries).map((o) => JSON.stringify(visible(o)));
    expect(new Set(shown).size).toBe(1);
    expect(tries.middle.code).toBe("TAMPERED");
    for (const [name, o] of Object.entries(tries)) {
      expect([name, o.consumed]).toEqual([name, o.total]);
      expect([name, o.sunk > content.length - 16 * 1024]).toEqual([name, true]);
    }
  });

  it("the unmodified parts still open (control)", async () => {
    const out = join(tmp.dir, "control.bin");
    const r = await openFile(Readable.from([build(p, p.params, p.ciphertext, p.mac)]), out, {
      keys: [wang.encrypt],
      trust: testTrust(),
    });
    expect(r.contentBytes).toBe(content.length);
  });
});

describe("an ECDH recipient (EC key, KeyAgreeRecipientInfo) under the same discipline", () => {
  const tsai = person("soc-tsai"); // P-256, encryption certificate with keyAgreement
  let p: Parsed;
  beforeAll(async () => {
    p = await parse(await sealed({ cipher: "aes-256-cbc", recipients: [tsai.encrypt.cert] }));
  });

  it("256 IV tries, a wrapped key that does not unwrap and a wrong EC key all fail alike after reading everything", async () => {
    const ct = p.ciphertext;
    const k = Math.floor(ct.length / 32);
    const prev = ct.subarray((k - 1) * 16, k * 16);
    const target = ct.subarray(k * 16, (k + 1) * 16);
    const outcomes: Outcome[] = [];
    for (let g = 0; g < 256; g++) {
      const iv = Buffer.from(prev);
      iv[15] = prev[15]! ^ g ^ 0x01;
      outcomes.push(await attempt(build(p, octetString(iv), target), [tsai.encrypt]));
    }
    // The AES key wrap's last byte is the last byte of the RecipientInfos: its integrity check fails.
    const badWrap: Parsed = { ...p, recipientInfos: Buffer.from(p.recipientInfos) };
    badWrap.recipientInfos[badWrap.recipientInfos.length - 1]! ^= 0x01;
    const pan = person("ops-pan"); // another P-256 key: the shared secret, hence the key-encryption key, differs
    const liar: KeyEntry = { cert: tsai.encrypt.cert, privateKey: pan.encrypt.privateKey, chain: [] };
    const tries = {
      "wrapped key altered": await attempt(build(badWrap, p.params, ct), [tsai.encrypt]),
      "wrong EC key": await attempt(build(p, p.params, ct), [liar]),
      "middle block": await attempt(
        build(
          p,
          p.params,
          (() => {
            const b = Buffer.from(ct);
            b[Math.floor(ct.length / 2)]! ^= 0x40;
            return b;
          })(),
        ),
        [tsai.encrypt],
      ),
    };
    const shown = new Set([...outcomes, ...Object.values(tries)].map((o) => JSON.stringify(visible(o))));
    expect(shown.size).toBe(1);
    expect(outcomes[0]!.code).toBe("TAMPERED");
    for (const o of [...outcomes, ...Object.values(tries)]) expect(o.consumed).toBe(o.total);
    for (const [name, o] of Object.entries(tries)) {
      expect([name, o.sunk > content.length - 16 * 1024]).toEqual([name, true]);
    }
  });

  it("the unmodified file opens with the EC key (control)", async () => {
    const out = join(tmp.dir, "control-ec.bin");
    const r = await openFile(Readable.from([build(p, p.params, p.ciphertext)]), out, {
      keys: [tsai.encrypt],
      trust: testTrust(),
    });
    expect(r.contentBytes).toBe(content.length);
    expect(r.checks).toContain("key-agreement");
  });
});

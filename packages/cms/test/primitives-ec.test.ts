import { createECDH, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SoftwareKey } from "@sealpost/pki";
import { describe, expect, it } from "vitest";
import { CmsError } from "../src/errors.js";
import {
  aesKeyUnwrap,
  aesKeyWrap,
  CURVES,
  type Curve,
  ecdhSharedSecret,
  ecdsaVerify,
  ecPublicKeyFromPoint,
  ecPublicKeyFromSpki,
  type HashName,
  wrappableLength,
  x963Kdf,
} from "../src/primitives/index.js";

/** Wycheproof ECDH, ECDSA and AES key-wrap files through the project's primitive layer (src/primitives). */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const wyDir = path.resolve(repoRoot, "../shared/vectors/wycheproof/testvectors_v1");
const hex = (s: string) => Buffer.from(s, "hex");
interface Group<T> {
  tests: T[];
  [k: string]: unknown;
}
const load = <T>(file: string) =>
  JSON.parse(readFileSync(path.join(wyDir, file), "utf8")) as { testGroups: Group<T>[]; numberOfTests: number };
const WY_CURVE: Record<string, Curve> = {
  secp256r1: CURVES.prime256v1!,
  secp384r1: CURVES.secp384r1!,
  secp521r1: CURVES.secp521r1!,
};

/** A private EC key from a Wycheproof scalar (hex, possibly with a leading 00). */
function privateKeyOf(curve: Curve, scalarHex: string): KeyObject {
  let d = hex(scalarHex);
  while (d.length > curve.fieldBytes && d[0] === 0) d = d.subarray(1);
  d = Buffer.concat([Buffer.alloc(curve.fieldBytes - d.length), d]);
  const ecdh = createECDH(curve.name);
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const f = curve.fieldBytes;
  return createPrivateKey({
    key: {
      kty: "EC",
      crv: curve.label,
      d: d.toString("base64url"),
      x: pub.subarray(1, 1 + f).toString("base64url"),
      y: pub.subarray(1 + f).toString("base64url"),
    },
    format: "jwk",
  });
}

/** Runs `f`: its value, or "rejected" for a CmsError (MALFORMED, UNSUPPORTED_ALGORITHM) or a PkiError. */
async function outcome<T>(f: () => Promise<T> | T): Promise<T | "rejected"> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CmsError || (e as { name?: string }).name === "PkiError") return "rejected";
    throw e;
  }
}

interface EcdhTest {
  tcId: number;
  public: string;
  private: string;
  shared: string;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
}

describe("Wycheproof ECDH (invalid points and wrong curves refused)", () => {
  for (const curveName of ["secp256r1", "secp384r1", "secp521r1"]) {
    for (const encoding of ["asn", "ecpoint"] as const) {
      const file = encoding === "asn" ? `ecdh_${curveName}_test.json` : `ecdh_${curveName}_ecpoint_test.json`;
      it(file, async () => {
        const curve = WY_CURVE[curveName]!;
        const data = load<EcdhTest>(file);
        const failures: string[] = [];
        let run = 0;
        let rejectedInvalid = 0;
        const keys = new Map<string, SoftwareKey>();
        for (const g of data.testGroups) {
          for (const t of g.tests) {
            run++;
            let key = keys.get(t.private);
            if (!key) {
              key = new SoftwareKey(privateKeyOf(curve, t.private));
              keys.set(t.private, key);
            }
            const got = await outcome(async () => {
              const peer =
                encoding === "asn"
                  ? ecPublicKeyFromSpki(hex(t.public), curve)
                  : ecPublicKeyFromPoint(curve, hex(t.public));
              return ecdhSharedSecret(key!, peer);
            });
            if (t.result === "valid" && (got === "rejected" || got.toString("hex") !== t.shared)) {
              failures.push(`${t.tcId} valid: ${got === "rejected" ? "rejected" : "wrong secret"} ${t.flags}`);
            }
            if (t.result === "invalid") {
              if (got !== "rejected") failures.push(`${t.tcId} invalid accepted ${t.flags}`);
              else rejectedInvalid++;
            }
            if (t.result === "acceptable" && got !== "rejected" && got.toString("hex") !== t.shared) {
              failures.push(`${t.tcId} acceptable: wrong secret`);
            }
          }
        }
        expect(failures).toEqual([]);
        expect(run).toBe(data.numberOfTests);
        expect(rejectedInvalid).toBeGreaterThan(0);
      });
    }
  }

  it("a key on another curve is refused (P-384 peer for a P-256 key)", async () => {
    const p256 = new SoftwareKey(privateKeyOf(CURVES.prime256v1!, "01".repeat(32)));
    const other = createECDH("secp384r1");
    other.generateKeys();
    const peer = ecPublicKeyFromPoint(CURVES.secp384r1!, other.getPublicKey());
    await expect(ecdhSharedSecret(p256, peer)).rejects.toMatchObject({ code: "MALFORMED" });
    // the same point bytes read as a P-256 point: wrong length, refused before any arithmetic
    expect(() => ecPublicKeyFromPoint(CURVES.prime256v1!, other.getPublicKey())).toThrow(CmsError);
  });
});

interface EcdsaTest {
  tcId: number;
  msg: string;
  sig: string;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
}

describe("Wycheproof ECDSA (DER signatures)", () => {
  const files = [
    "ecdsa_secp256r1_sha256_test.json",
    "ecdsa_secp256r1_sha512_test.json",
    "ecdsa_secp384r1_sha256_test.json",
    "ecdsa_secp384r1_sha384_test.json",
    "ecdsa_secp384r1_sha512_test.json",
    "ecdsa_secp521r1_sha512_test.json",
  ];
  for (const file of files) {
    it(file, () => {
      const data = load<EcdsaTest>(file);
      const hash = file.match(/_(sha\d+)_test/)![1] as HashName;
      const failures: string[] = [];
      let run = 0;
      for (const g of data.testGroups) {
        const curve = WY_CURVE[(g.publicKey as { curve: string }).curve]!;
        const pub = ecPublicKeyFromSpki(hex(g.publicKeyDer as string), curve);
        for (const t of g.tests) {
          run++;
          const ok = ecdsaVerify(pub, hex(t.msg), hex(t.sig), hash);
          if (t.result === "valid" && !ok) failures.push(`${t.tcId} valid rejected ${t.flags}`);
          if (t.result === "invalid" && ok) failures.push(`${t.tcId} invalid accepted ${t.flags}`);
        }
      }
      expect(failures).toEqual([]);
      expect(run).toBe(data.numberOfTests);
    });
  }
});

interface KwTest {
  tcId: number;
  key: string;
  msg: string;
  ct: string;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
}

describe("Wycheproof AES key wrap (RFC 3394; lengths checked before OpenSSL)", () => {
  it("aes_wrap_test.json", () => {
    const data = load<KwTest>("aes_wrap_test.json");
    const failures: string[] = [];
    let run = 0;
    let lengthRefusals = 0;
    for (const g of data.testGroups) {
      for (const t of g.tests) {
        run++;
        const key = hex(t.key);
        const msg = hex(t.msg);
        const ct = hex(t.ct);
        const unwrapped = aesKeyUnwrap(key, ct);
        if (t.result === "valid") {
          if (!unwrapped?.equals(msg)) failures.push(`${t.tcId} unwrap failed`);
          if (!aesKeyWrap(key, msg).equals(ct)) failures.push(`${t.tcId} wrap differs`);
        } else if (t.result === "invalid") {
          if (unwrapped) failures.push(`${t.tcId} invalid unwrapped ${t.flags}`);
          if (!wrappableLength(msg.length)) {
            lengthRefusals++;
            expect(() => aesKeyWrap(key, msg)).toThrow(RangeError);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(run).toBe(data.numberOfTests);
    expect(lengthRefusals).toBeGreaterThan(0);
  });

  it("RFC 3394 4.6: 256-bit key data with a 256-bit KEK", () => {
    const kek = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    const data = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
    const wrapped = aesKeyWrap(kek, data);
    expect(wrapped.toString("hex").toUpperCase()).toBe(
      "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
    );
    expect(aesKeyUnwrap(kek, wrapped)?.equals(data)).toBe(true);
  });
});

describe("X9.63 KDF", () => {
  // SEC 1 / ANSI X9.63 KDF with SHA-256: the NIST CAVS 12.0 X9.63 KDF sample (count 0).
  it("matches the CAVS SHA-256 sample", () => {
    const z = hex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
    const info = hex("");
    expect(x963Kdf("sha256", z, info, 16).toString("hex")).toBe("443024c3dae66b95e6f5670601558f71");
  });
});

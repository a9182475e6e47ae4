import {
  constants,
  createHash,
  createPrivateKey,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  verify,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Keystore,
  listTokens,
  openKeystore,
  parsePkcs11Uri,
  PkiError,
  pickKey,
  tokenOperationCount,
} from "../src/index.js";

/**
 * PKCS#11 tokens on SoftHSM2 (a real token implementation, standing in for an IC card): tokens made by
 * scripts/make-token.sh's module in a temp folder for tax-wang (two RSA-2048 keys) and tax-chiu (two P-384 keys).
 */

const root = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const manifest = JSON.parse(readFileSync(join(root, "fixtures/pki/manifest.json"), "utf8"));
const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const dir = mkdtempSync(join(tmpdir(), "sealpost-token-"));
const pinOf = (id: string) => manifest.people[id].pin as string;
const keyFile = (id: string, use: string) =>
  createPrivateKey(readFileSync(join(root, "fixtures/pki", manifest.people[id][use].key)));
let wang: Keystore;
let chiu: Keystore;

beforeAll(async () => {
  const { makeTokens } = await import(join(root, "scripts/lib/make-token.mjs"));
  makeTokens(dir, ["tax-wang", "tax-chiu", "soc-tsai"]);
  wang = await openKeystore("pkcs11:token=tax-wang", { pkcs11Module: MODULE, pin: async () => pinOf("tax-wang") });
  chiu = await openKeystore(`pkcs11:token=tax-chiu;type=private?module-path=${MODULE}`, {
    pin: async () => pinOf("tax-chiu"),
  });
});
afterAll(async () => {
  await wang?.close?.();
  await chiu?.close?.();
  rmSync(dir, { recursive: true, force: true });
});

describe("pkcs11: URIs (RFC 7512)", () => {
  it.each([
    ["pkcs11:token=tax-wang;object=sign", { token: "tax-wang", object: "sign" }],
    [
      "pkcs11:token=My%20Card;id=%01%02?module-path=/x/y.so",
      { token: "My Card", id: Buffer.from([1, 2]), modulePath: "/x/y.so" },
    ],
    ["PKCS11:slot-id=3;type=private", { slotId: 3, type: "private" }],
    ["pkcs11:token=%E7%8E%8B", { token: "王" }],
  ])("%s", (uri, want) => {
    expect(parsePkcs11Uri(uri)).toEqual(want);
  });
  it.each([
    "pkcs11:token=x;pin-value=1234",
    "pkcs11:token=x?pin-source=/tmp/p",
    "pkcs11:token=%zz",
    "pkcs11:token=a;token=b",
    "pkcs11:bogus",
  ])("refuses %s (MALFORMED; a PIN never rides in a URI)", (uri) => {
    expect(() => parsePkcs11Uri(uri)).toThrow(PkiError);
  });
});

describe("opening a token", () => {
  it("right PIN: both keys with their certificates from the token, chosen by key usage, on the token", () => {
    expect(wang.entries).toHaveLength(2);
    const sign = pickKey(wang, "sign");
    const enc = pickKey(wang, "encrypt");
    expect(sign.cert.sha256).not.toBe(enc.cert.sha256);
    expect(sign.cert.keyUsage?.has("digitalSignature")).toBe(true);
    expect(enc.cert.keyUsage?.has("keyEncipherment")).toBe(true);
    expect(sign.key?.location).toBe("token");
    expect(sign.privateKey).toBeUndefined(); // no KeyObject: the key is not in this process
    expect(sign.chain.map((c) => c.commonName)).toContain("測試用 政府憑證管理中心 GCA (test)");
    expect(pickKey(chiu, "encrypt").cert.keyUsage?.has("keyAgreement")).toBe(true);
  });

  it("an object= URI selects that key only", async () => {
    const ks = await openKeystore(`pkcs11:token=tax-wang;object=encrypt?module-path=${MODULE}`, {
      pin: async () => pinOf("tax-wang"),
    });
    try {
      expect(ks.entries).toHaveLength(1);
      expect(() => pickKey(ks, "sign")).toThrow(expect.objectContaining({ code: "NO_KEY" }));
    } finally {
      await ks.close?.();
    }
  });

  it("wrong PIN: BAD_PIN with the tries the token reports (SoftHSM sets CKF_USER_PIN_COUNT_LOW); the PIN is in no message", async () => {
    const tried: number[] = [];
    // soc-tsai's token: no session of this process is logged in there (login state is per application and token)
    const e = await openKeystore(`pkcs11:token=soc-tsai?module-path=${MODULE}`, {
      maxAttempts: 2,
      pin: async (r) => {
        tried.push(r.attempt);
        if (r.attempt === 2) expect(r.previous?.code).toBe("BAD_PIN");
        return "not-the-PIN-9999";
      },
    }).catch((x) => x);
    expect(tried).toEqual([1, 2]);
    expect(e).toBeInstanceOf(PkiError);
    expect(e.code).toBe("BAD_PIN");
    expect(e.details.tries).toBe("few");
    expect(e.message).toMatch(/few tries/);
    expect(JSON.stringify({ m: e.message, h: e.hint, d: e.details })).not.toContain("not-the-PIN");
    // the right PIN still opens it afterwards, and resets the count
    const ks = await openKeystore(`pkcs11:token=tax-chiu?module-path=${MODULE}`, {
      pin: async () => pinOf("tax-chiu"),
    });
    await ks.close?.();
    const slot = listTokens(MODULE).find((s) => s.token?.label === "tax-chiu");
    expect(slot?.token?.pin.countLow).toBe(false);
  });

  it("module missing: TOKEN_MODULE; no module named: TOKEN_MODULE; token absent: TOKEN_ABSENT naming those present", async () => {
    await expect(openKeystore("pkcs11:token=tax-wang?module-path=/nonexistent/libnothing.so")).rejects.toMatchObject({
      code: "TOKEN_MODULE",
    });
    await expect(openKeystore("pkcs11:token=tax-wang")).rejects.toMatchObject({ code: "TOKEN_MODULE" });
    const e = await openKeystore(`pkcs11:token=soc-chen?module-path=${MODULE}`, { pin: async () => "x" }).catch(
      (x) => x,
    );
    expect(e.code).toBe("TOKEN_ABSENT");
    expect(e.details.tokens).toEqual(expect.arrayContaining(["tax-wang", "tax-chiu", "soc-tsai"]));
  });

  it("without a PIN provider a token that needs a login fails with BAD_PIN", async () => {
    await expect(openKeystore(`pkcs11:token=tax-wang?module-path=${MODULE}`)).rejects.toMatchObject({
      code: "BAD_PIN",
    });
  });

  it("token list shows slots, tokens and certificates without a PIN (private keys stay hidden)", () => {
    const slots = listTokens(MODULE);
    const t = slots.find((s) => s.token?.label === "tax-wang")!.token!;
    expect(t.loginRequired).toBe(true);
    const certs = t.objects.filter((o) => o.class === "certificate");
    expect(certs.map((c) => c.label).sort()).toEqual(["encrypt", "gca", "sign"]);
    expect(certs.find((c) => c.label === "sign")?.cert?.commonName).toBe("王建民");
    expect(t.objects.filter((o) => o.class === "public-key")).toHaveLength(2);
    // on a token nobody in this process is logged in to, the private keys stay hidden
    const tsai = slots.find((s) => s.token?.label === "soc-tsai")!.token!;
    expect(tsai.objects.filter((o) => o.class === "certificate")).toHaveLength(3);
    expect(tsai.objects.some((o) => o.class === "private-key")).toBe(false);
    expect(slots.some((s) => !s.token?.initialized)).toBe(true); // SoftHSM's spare empty slot
  });

  it("the private keys are sensitive and not extractable: the token refuses to hand out their values", () => {
    const p = createRequire(import.meta.url)("pkcs11js");
    const lib = new p.PKCS11();
    lib.load(MODULE);
    try {
      lib.C_Initialize();
    } catch {
      // initialised by this process already
    }
    const slot = lib.C_GetSlotList(true).find((s: Buffer) => lib.C_GetTokenInfo(s).label.startsWith("tax-wang"));
    const s = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
    try {
      lib.C_Login(s, p.CKU_USER, pinOf("tax-wang"));
    } catch {
      // the keystore's session is logged in already (login state is per token)
    }
    lib.C_FindObjectsInit(s, [{ type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY }]);
    const keys = lib.C_FindObjects(s, 10);
    lib.C_FindObjectsFinal(s);
    expect(keys).toHaveLength(2);
    for (const k of keys) {
      const [sens, extr] = lib.C_GetAttributeValue(s, k, [{ type: p.CKA_SENSITIVE }, { type: p.CKA_EXTRACTABLE }]);
      expect(sens.value[0]).toBe(1);
      expect(extr.value[0]).toBe(0);
      expect(() => lib.C_GetAttributeValue(s, k, [{ type: p.CKA_PRIVATE_EXPONENT }])).toThrow(/ATTRIBUTE_SENSITIVE/);
    }
    lib.C_CloseSession(s);
  });
});

describe("operations run on the token, one each", () => {
  const data = Buffer.from("sealpost signed attributes stand-in");

  it("RSA PKCS#1 v1.5 and PSS signatures (SHA-256) verify with the certificate", async () => {
    const e = pickKey(wang, "sign");
    const before = tokenOperationCount();
    const s1 = await e.key!.sign(data, { scheme: "rsa-pkcs1", hash: "sha256" });
    const s2 = await e.key!.sign(data, { scheme: "rsa-pss", hash: "sha256", saltLength: 32 });
    expect(tokenOperationCount() - before).toBe(2);
    expect(verify("sha256", data, e.cert.publicKey, s1)).toBe(true);
    expect(
      verify("sha256", data, { key: e.cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s2),
    ).toBe(true);
  });

  it("ECDSA P-384 (SHA-384): a DER signature that verifies", async () => {
    const e = pickKey(chiu, "sign");
    const s = await e.key!.sign(data, { scheme: "ecdsa", hash: "sha384" });
    expect(s[0]).toBe(0x30);
    expect(verify("sha384", data, { key: e.cert.publicKey, dsaEncoding: "der" }, s)).toBe(true);
  });

  it("RSA-OAEP: SoftHSM 2.6 decrypts SHA-1 OAEP itself and refuses SHA-256 parameters; raw RSA on the token stands in", async () => {
    const e = pickKey(wang, "encrypt");
    const cek = Buffer.alloc(32, 7);
    const c1 = publicEncrypt(
      { key: e.cert.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      cek,
    );
    expect(await e.key!.rsaDecrypt(c1, { padding: "oaep", hash: "sha1", mgf1Hash: "sha1" })).toEqual(cek);
    const c256 = publicEncrypt(
      { key: e.cert.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      cek,
    );
    await expect(
      e.key!.rsaDecrypt(c256, { padding: "oaep", hash: "sha256", mgf1Hash: "sha256" }),
    ).rejects.toMatchObject({
      code: "UNSUPPORTED_ALGORITHM",
    });
    const before = tokenOperationCount();
    const em = await e.key!.rsaDecrypt(c256, { padding: "raw" });
    expect(tokenOperationCount() - before).toBe(1);
    expect(em).toHaveLength(256);
    // the raw result is c^d mod n: re-encrypting it raw gives the ciphertext back
    expect(publicEncrypt({ key: e.cert.publicKey, padding: constants.RSA_NO_PADDING }, em!)).toEqual(c256);
    // a tampered SHA-1 OAEP ciphertext is a failed decryption (null), not a fault
    const bad = Buffer.from(c1);
    bad[5]! ^= 1;
    expect(await e.key!.rsaDecrypt(bad, { padding: "oaep", hash: "sha1", mgf1Hash: "sha1" })).toBeNull();
  });

  it("ECDH P-384 on the token gives the same secret as the key file; another curve is refused", async () => {
    const e = pickKey(chiu, "encrypt");
    const eph = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const before = tokenOperationCount();
    const z = await e.key!.ecdh(eph.publicKey);
    expect(tokenOperationCount() - before).toBe(1);
    expect(z).toEqual(diffieHellman({ privateKey: keyFile("tax-chiu", "encrypt"), publicKey: eph.publicKey }));
    expect(z).toEqual(diffieHellman({ privateKey: eph.privateKey, publicKey: e.cert.publicKey }));
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await expect(e.key!.ecdh(p256.publicKey)).rejects.toMatchObject({ code: "MALFORMED" });
  });

  it("the key's description names the token and object, never a secret", () => {
    expect(pickKey(wang, "sign").key!.description).toBe("token tax-wang object sign");
    expect(createHash("sha256").update(pickKey(wang, "sign").cert.der).digest("hex")).toBe(
      pickKey(wang, "sign").cert.sha256,
    );
  });
});

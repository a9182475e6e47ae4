// Creates SoftHSM2 tokens that stand in for fixture people's IC cards (fictional test data): one token per person,
// labelled with the person's id, user PIN = the person's fixture PIN, holding their signing and encryption private
// keys (sensitive, not extractable; CKA_ID 01 = sign, 02 = encrypt), the matching public keys and certificates, and
// the GCA certificate, like a government IC card. Everything goes through PKCS#11 (pkcs11js): no PIN on a command
// line. The token folder and softhsm2.conf live in `dir`; SOFTHSM2_CONF must point at `dir/softhsm2.conf` for
// anyone using the tokens.
//
// Usage: node scripts/lib/make-token.mjs DIR [PERSON ...]   (default: every person of fixtures/pki/manifest.json)
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCertificate } from "@sealpost/pki";

const require = createRequire(import.meta.url);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PKI = join(ROOT, "fixtures/pki");
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const CURVE_OIDS = { "P-256": "06082a8648ce3d030107", "P-384": "06052b81040022" };

/** Writes dir/softhsm2.conf (token folder dir/tokens) and returns its path. */
export function writeSofthsmConf(dir) {
  const tokens = join(resolve(dir), "tokens");
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(resolve(dir), "softhsm2.conf");
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  return conf;
}

function keyTemplate(p, use, keyPem, label, id) {
  const key = createPrivateKey(keyPem);
  const jwk = key.export({ format: "jwk" });
  const b = (v) => Buffer.from(v, "base64url");
  const common = [
    { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: true },
    { type: p.CKA_EXTRACTABLE, value: false },
    { type: p.CKA_LABEL, value: label },
    { type: p.CKA_ID, value: id },
  ];
  const pubCommon = [
    { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: false },
    { type: p.CKA_LABEL, value: label },
    { type: p.CKA_ID, value: id },
  ];
  if (jwk.kty === "RSA") {
    const usage =
      use === "sign"
        ? [
            { type: p.CKA_SIGN, value: true },
            { type: p.CKA_DECRYPT, value: false },
          ]
        : [
            { type: p.CKA_DECRYPT, value: true },
            { type: p.CKA_UNWRAP, value: true },
            { type: p.CKA_SIGN, value: false },
          ];
    return {
      priv: [
        ...common,
        ...usage,
        { type: p.CKA_KEY_TYPE, value: p.CKK_RSA },
        { type: p.CKA_MODULUS, value: b(jwk.n) },
        { type: p.CKA_PUBLIC_EXPONENT, value: b(jwk.e) },
        { type: p.CKA_PRIVATE_EXPONENT, value: b(jwk.d) },
        { type: p.CKA_PRIME_1, value: b(jwk.p) },
        { type: p.CKA_PRIME_2, value: b(jwk.q) },
        { type: p.CKA_EXPONENT_1, value: b(jwk.dp) },
        { type: p.CKA_EXPONENT_2, value: b(jwk.dq) },
        { type: p.CKA_COEFFICIENT, value: b(jwk.qi) },
      ],
      pub: [
        ...pubCommon,
        { type: p.CKA_KEY_TYPE, value: p.CKK_RSA },
        { type: p.CKA_MODULUS, value: b(jwk.n) },
        { type: p.CKA_PUBLIC_EXPONENT, value: b(jwk.e) },
      ],
    };
  }
  const params = Buffer.from(CURVE_OIDS[jwk.crv], "hex");
  const point = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
  const usage =
    use === "sign"
      ? [
          { type: p.CKA_SIGN, value: true },
          { type: p.CKA_DERIVE, value: false },
        ]
      : [
          { type: p.CKA_DERIVE, value: true },
          { type: p.CKA_SIGN, value: false },
        ];
  return {
    priv: [
      ...common,
      ...usage,
      { type: p.CKA_KEY_TYPE, value: p.CKK_EC },
      { type: p.CKA_EC_PARAMS, value: params },
      { type: p.CKA_VALUE, value: b(jwk.d) },
    ],
    pub: [
      ...pubCommon,
      { type: p.CKA_KEY_TYPE, value: p.CKK_EC },
      { type: p.CKA_EC_PARAMS, value: params },
      { type: p.CKA_EC_POINT, value: Buffer.concat([Buffer.from([4, point.length]), point]) },
    ],
  };
}

function certTemplate(p, pem, label, id) {
  const x = new X509Certificate(pem);
  const c = parseCertificate(x.raw);
  return [
    { type: p.CKA_SUBJECT, value: Buffer.from(c.subjectDer) },
    { type: p.CKA_ISSUER, value: Buffer.from(c.issuerDer) },
    { type: p.CKA_CLASS, value: p.CKO_CERTIFICATE },
    { type: p.CKA_CERTIFICATE_TYPE, value: p.CKC_X_509 },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: false },
    { type: p.CKA_LABEL, value: label },
    { type: p.CKA_ID, value: id },
    { type: p.CKA_VALUE, value: x.raw },
  ];
}

/**
 * Creates one token per person id in `dir` (which gets softhsm2.conf) and returns
 * { conf, module, tokens: [{ id, label, pin, uri }] }. Call with no other user of the SoftHSM module in this process.
 */
export function makeTokens(dir, ids) {
  const conf = writeSofthsmConf(dir);
  process.env.SOFTHSM2_CONF = conf;
  const manifest = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
  const people = ids?.length ? ids : Object.keys(manifest.people);
  const p = require("pkcs11js");
  const lib = new p.PKCS11();
  lib.load(SOFTHSM_MODULE);
  lib.C_Initialize();
  const made = [];
  try {
    for (const id of people) {
      const person = manifest.people[id];
      if (!person) throw new Error(`make-token: no fixture person ${id}`);
      const free = lib.C_GetSlotList(true).find((s) => !(lib.C_GetTokenInfo(s).flags & p.CKF_TOKEN_INITIALIZED));
      if (!free) throw new Error("make-token: SoftHSM offers no free slot");
      lib.C_InitToken(free, `so-${person.pin}`, id.padEnd(32, " "));
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, "") === id);
      if (!slot) throw new Error(`make-token: the new token ${id} did not appear`);
      const s = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
      lib.C_Login(s, p.CKU_SO, `so-${person.pin}`);
      lib.C_InitPIN(s, person.pin);
      lib.C_Logout(s);
      lib.C_Login(s, p.CKU_USER, person.pin);
      for (const [use, idByte] of [
        ["sign", 1],
        ["encrypt", 2],
      ]) {
        const cid = Buffer.from([idByte]);
        const t = keyTemplate(p, use, readFileSync(join(PKI, person[use].key)), use, cid);
        lib.C_CreateObject(s, t.priv);
        lib.C_CreateObject(s, t.pub);
        lib.C_CreateObject(s, certTemplate(p, readFileSync(join(PKI, person[use].cert)), use, cid));
      }
      lib.C_CreateObject(
        s,
        certTemplate(p, readFileSync(join(PKI, manifest.intermediate.cert)), "gca", Buffer.from([0x10])),
      );
      lib.C_Logout(s);
      lib.C_CloseSession(s);
      made.push({ id, label: id, pin: person.pin, uri: `pkcs11:token=${encodeURIComponent(id)}` });
    }
  } finally {
    lib.C_Finalize();
  }
  return { conf, module: SOFTHSM_MODULE, tokens: made };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, ...ids] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write("usage: node scripts/lib/make-token.mjs DIR [PERSON ...]\n");
    process.exit(2);
  }
  const r = makeTokens(dir, ids);
  process.stdout.write(`export SOFTHSM2_CONF=${r.conf}\n`);
  for (const t of r.tokens)
    process.stdout.write(`# ${t.id}: --key "${t.uri}?module-path=${r.module}" (PIN in fixtures/pki/manifest.json)\n`);
}

/**
 * RSA, EC and AES primitives of the CMS layer: key-sized operations only (no content buffering). The CMS code calls
 * these, and the Wycheproof tests aim at them.
 */
export {
  AES_KEY_LENGTHS,
  aesCbcDecrypt,
  aesCbcEncrypt,
  aesGcmDecrypt,
  aesGcmEncrypt,
  aesKeyCheck,
  cbcParamsCheck,
  gcmParamsCheck,
  MAX_GCM_NONCE,
} from "./aes.js";
export { aesKeyUnwrap, aesKeyWrap, tripleDesKeyUnwrap, wrappableLength } from "./key-wrap.js";
export {
  CURVES,
  type Curve,
  curveOf,
  ecdhSharedSecret,
  ecPointOf,
  ecPublicKeyFromPoint,
  ecPublicKeyFromSpki,
  OID_EC_PUBLIC_KEY,
  x963Kdf,
} from "./ec.js";
export { ecdsaVerify } from "./ecdsa.js";
export { HASH_LENGTHS, HASH_OIDS, type HashName, hashFromOid, normalizeHash } from "./hashes.js";
export { mgf1 } from "./mgf1.js";
export {
  encodeRsaesOaepParams,
  OID_MGF1,
  OID_P_SPECIFIED,
  OID_RSAES_OAEP,
  oaepDecode,
  type OaepParams,
  parseRsaesOaepParams,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
} from "./rsa-oaep.js";
export {
  implicitRejectionKey,
  pkcs1v15UnpadImplicit,
  rsaPkcs1v15DecryptImplicit,
  rsaPkcs1v15DecryptStrict,
  rsaPkcs1v15Encrypt,
} from "./rsa-pkcs1v15.js";
export { modulusBytes } from "./rsa-raw.js";
export {
  encodeRsassaPssParams,
  OID_RSASSA_PSS,
  type PssParams,
  parseRsassaPssParams,
  type RsaSignatureOptions,
  rsaSign,
  rsaVerify,
} from "./rsa-sign.js";

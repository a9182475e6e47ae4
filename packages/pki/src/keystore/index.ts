export { buildChain, type LoadKeystoreOptions, loadKeystore, matchKeysToCertificates } from "./load.js";
export { KDF_LIMITS, kdfWorkPerformed } from "./kdf-budget.js";
export { type BagAttributes, looksLikePkcs12, type Pkcs12Contents, readPkcs12 } from "./pkcs12.js";
export { readDerPrivateKey, readPemPrivateKeys, readPrivateKeys } from "./private-key.js";
export {
  assertStrongCertificate,
  MIN_EC_BITS,
  MIN_RSA_BITS,
  type WeaknessReason,
  weaknessReasons,
} from "./strength.js";

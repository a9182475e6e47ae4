export type { KeyLocation, PrivateKeyHandle, RsaDecryption, SignatureMechanism, SignHash } from "./handle.js";
export { looksLikePfx, type OpenKeystoreOptions, openKeystore, type PinProvider, type PinRequest } from "./open.js";
export { CURVE_FIELD_BITS, keyHandleOf, SoftwareKey, softwareEcdh, unsupportedKeyOperation } from "./software.js";

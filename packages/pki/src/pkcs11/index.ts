export { listTokens, type ObjectListing, type SlotListing } from "./list.js";
export { type Pkcs11Api, pkcs11Api, tokenOperationCount } from "./module.js";
export { type PinStatus, pinStatusOf, TokenSession } from "./token.js";
export { ecdsaRawToDer, TokenKey } from "./token-key.js";
export { describeUri, isPkcs11Uri, type Pkcs11Uri, parsePkcs11Uri } from "./uri.js";

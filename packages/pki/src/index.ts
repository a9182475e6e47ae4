export * from "./types.js";
export * from "./errors.js";
export * from "./names.js";
export * from "./cert.js";
export * from "./key-usage.js";
export * from "./keystore/index.js";
export * from "./trust/index.js";
export * from "./ber.js";

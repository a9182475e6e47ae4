export * from "./types.js";
export * from "./errors.js";
export * from "./names.js";
export * from "./cert.js";

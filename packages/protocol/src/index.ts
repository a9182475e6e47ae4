export * from "./errors.js";
export * from "./cases.js";
export * from "./oids.js";
export * from "./exit-codes.js";
export * from "./api.js";

export * from "./errors.js";
export * from "./cases.js";
export * from "./oids.js";
export * from "./exit-codes.js";
export * from "./canonical-json.js";
export * from "./roster.js";
export * from "./api/index.js";

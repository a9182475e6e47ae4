/**
 * The protocol's plain values without the HTTP API schemas: errors, case states, OIDs, exit codes, canonical JSON.
 * Importing `@sealpost/protocol/core` instead of the package root keeps the schema library out of processes that
 * only seal and open (about 20 MiB of RSS).
 */
export * from "./errors.js";
export * from "./cases.js";
export * from "./oids.js";
export * from "./exit-codes.js";
export * from "./canonical-json.js";

/**
 * Canonical JSON for everything the relay and its clients hash or sign. Signatures the CLI makes for the server (login
 * and receipts) are RSA PKCS#1 v1.5 (or ECDSA) with SHA-256 over the UTF-8 bytes of `canonicalJson(statement)`, made
 * with the staff member's registered *signing* key and sent base64.
 */

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order, no whitespace, arrays kept in order, `undefined`
 * members dropped. Used for everything that is hashed or signed (audit entries, login and receipt statements).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

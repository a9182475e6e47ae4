import type { CmsErrorCode } from "@sealpost/cms";
import type { PkiErrorCode } from "@sealpost/pki";
import { EXIT_CODE_DESCRIPTIONS } from "@sealpost/protocol";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { CliErrorCode } from "../src/errors.js";
import { exitCodeFor } from "../src/exit.js";

// Every library code must map to its documented exit code; the Record types make a new code a compile error here.
const CMS: Record<CmsErrorCode, number> = {
  NOT_A_RECIPIENT: 4,
  BAD_SIGNATURE: 7,
  UNTRUSTED_SIGNER: 8,
  TAMPERED: 6,
  UNSUPPORTED_ALGORITHM: 9,
  TRUNCATED: 6,
  MALFORMED: 6,
  UNSIGNED_CONTENT: 7,
  OUTPUT_EXISTS: 3,
  IO: 3,
  KEY_USAGE: 8,
  WEAK_ALGORITHM: 9,
};
const PKI: Record<PkiErrorCode, number> = {
  BAD_PIN: 5,
  MALFORMED: 6,
  UNSUPPORTED_ALGORITHM: 9,
  WEAK_KEY: 9,
  WEAK_ALGORITHM: 9,
  NO_KEY: 8,
  KEY_USAGE: 8,
  EXPIRED: 8,
  NOT_YET_VALID: 8,
  REVOKED: 8,
  ON_HOLD: 8,
  UNTRUSTED: 8,
  BAD_CERT_SIGNATURE: 8,
  PATH_CONSTRAINT: 8,
  NAME_CONSTRAINT: 8,
  UNKNOWN_CRITICAL_EXTENSION: 8,
  POLICY: 8,
  REVOCATION_UNAVAILABLE: 8,
  IO: 3,
  KDF_LIMIT: 13,
};
const CLI: Record<CliErrorCode, number> = {
  USAGE: 2,
  PIN_ON_COMMAND_LINE: 2,
  PIN_REQUIRED: 5,
  PIN_ABORTED: 5,
  KEYSTORE: 5,
  CONFIG: 2,
  IO: 3,
  OUTPUT_EXISTS: 3,
};

describe("exit codes", () => {
  it.each(Object.entries({ ...CMS, ...PKI, ...CLI }))("%s exits %i", (code, want) => {
    expect(exitCodeFor(Object.assign(new Error("x"), { code }))).toBe(want);
  });

  it("an untrusted signer with a weak key or algorithm exits 9, otherwise 8", () => {
    expect(exitCodeFor({ code: "UNTRUSTED_SIGNER", details: { pkiCode: "WEAK_KEY" } })).toBe(9);
    expect(exitCodeFor({ code: "UNTRUSTED_SIGNER", cause: { code: "WEAK_ALGORITHM" } })).toBe(9);
    expect(exitCodeFor({ code: "UNTRUSTED_SIGNER", details: { pkiCode: "REVOKED" } })).toBe(8);
  });

  it("errno codes of file operations exit 3; unknown errors and codes exit 1; an explicit exitCode wins", () => {
    expect(exitCodeFor(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe(3);
    expect(exitCodeFor(new TypeError("bug"))).toBe(1);
    expect(exitCodeFor({ code: "SOMETHING_NEW" })).toBe(1);
    expect(exitCodeFor("string thrown")).toBe(1);
    expect(exitCodeFor({ code: "X", exitCode: 11 })).toBe(11);
  });

  it("cli/README.md documents every exit code with the same meaning", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const rows = new Map(
      [...readme.matchAll(/^\|\s*(\d+)\s*\|\s*(.+?)\s*\|$/gm)].map((m) => [m[1], m[2]?.replace(/\\\|/g, "|")]),
    );
    for (const [n, text] of Object.entries(EXIT_CODE_DESCRIPTIONS)) expect(rows.get(n)).toBe(text);
  });
});

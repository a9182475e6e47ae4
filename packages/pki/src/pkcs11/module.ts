import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type * as P11 from "pkcs11js";
import { PkiError } from "../errors.js";

/**
 * Loading PKCS#11 modules (through the pkcs11js native binding, required lazily so that a machine without it can
 * still use files). A module is initialised once per process while something uses it: `acquireModule` counts its
 * users and `releaseModule` finalises it when the last one leaves (a later acquire initialises it again, reading
 * its configuration afresh: SoftHSM2 reads SOFTHSM2_CONF at C_Initialize).
 */

export type Pkcs11Api = typeof P11;
export type Pkcs11 = P11.PKCS11;

let api: Pkcs11Api | undefined;

/** The pkcs11js module; PkiError TOKEN_MODULE when its native part is not built. */
export function pkcs11Api(): Pkcs11Api {
  if (api) return api;
  try {
    api = createRequire(import.meta.url)("pkcs11js") as Pkcs11Api;
  } catch (e) {
    throw new PkiError("TOKEN_MODULE", "PKCS#11 support is not installed (the pkcs11js native module did not load).", {
      cause: e,
      hint: "Run `npm ci` on this machine (it builds pkcs11js with node-gyp and the C++ compiler).",
    });
  }
  return api;
}

interface Loaded {
  lib: Pkcs11;
  users: number;
}
const loaded = new Map<string, Loaded>();
let operations = 0;

/** The number of private-key operations (C_Sign, C_Decrypt, C_DeriveKey) done on tokens by this process. */
export function tokenOperationCount(): number {
  return operations;
}

/** Counts one private-key operation (called by TokenKey). */
export function countTokenOperation(): void {
  operations++;
}

/**
 * Loads and initialises the module at `path` (or reuses it) and counts one user. PkiError TOKEN_MODULE when the file
 * is missing or is not a PKCS#11 module.
 */
export function acquireModule(path: string): Pkcs11 {
  const have = loaded.get(path);
  if (have) {
    have.users++;
    return have.lib;
  }
  if (!existsSync(path)) {
    throw new PkiError("TOKEN_MODULE", `The PKCS#11 module ${path} does not exist.`, {
      hint: 'Install the card\'s driver, and give its path as module-path in the pkcs11: URI or as "pkcs11Module" in the config file.',
      details: { modulePath: path },
    });
  }
  const p11 = pkcs11Api();
  const lib = new p11.PKCS11();
  try {
    lib.load(path);
  } catch (e) {
    throw new PkiError("TOKEN_MODULE", `${path} cannot be loaded as a PKCS#11 module.`, {
      cause: e,
      hint: "Give the path of the card's PKCS#11 library (a .so file), e.g. /usr/lib/softhsm/libsofthsm2.so.",
      details: { modulePath: path },
    });
  }
  try {
    lib.C_Initialize();
  } catch (e) {
    if ((e as { code?: number }).code !== p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new PkiError("TOKEN_MODULE", `The PKCS#11 module ${path} failed to start (${errName(e)}).`, {
        cause: e,
        hint: "Check the module's configuration (for SoftHSM2: SOFTHSM2_CONF and its token folder).",
        details: { modulePath: path },
      });
    }
  }
  loaded.set(path, { lib, users: 1 });
  return lib;
}

/** Drops one user of the module at `path`; the last one finalises it. */
export function releaseModule(path: string): void {
  const have = loaded.get(path);
  if (!have) return;
  if (--have.users > 0) return;
  loaded.delete(path);
  try {
    have.lib.C_Finalize();
  } catch {
    // already finalised or the module is gone: nothing to undo
  }
}

/** The CKR_ name of a PKCS#11 error (e.g. "CKR_PIN_INCORRECT"), or the error's message. */
export function errName(e: unknown): string {
  const m = (e as { message?: string }).message ?? String(e);
  return /^CKR_\w+/.exec(m)?.[0] ?? m;
}

/** The CK_RV of a PKCS#11 error, or undefined. */
export function errCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown }).code;
  return typeof c === "number" ? c : undefined;
}

/** Trimmed text of a fixed-width PKCS#11 string field. */
export const p11Text = (s: string): string => s.replace(/[\s\0]+$/, "");

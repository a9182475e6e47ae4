import { parseCertificate } from "../cert.js";
import { PkiError } from "../errors.js";
import { buildChain } from "../keystore/load.js";
import { assertStrongCertificate } from "../keystore/strength.js";
import type { CertInfo, KeyEntry, Keystore } from "../types.js";
import { acquireModule, errCode, errName, type Pkcs11, p11Text, pkcs11Api, releaseModule } from "./module.js";
import { TokenKey, type TokenSessionRef } from "./token-key.js";
import { describeUri, type Pkcs11Uri } from "./uri.js";

/**
 * A logged-in session on the token a pkcs11: URI names: the slot is found by the URI's token attributes, the keys
 * by its object/id/type attributes (all private keys when it names none), each paired with the certificate that
 * has the same CKA_ID (or, for RSA, the same modulus). Call order: `TokenSession.open()`, `login(pin)` when
 * `loginRequired`, `keystore()`, and `close()` at the end (closes the session, releases the module). PKCS#11 login
 * state is per application and token: while one session of this process is logged in to a token, another login
 * there succeeds without checking the PIN (CKR_USER_ALREADY_LOGGED_IN), so a process should hold one keystore per
 * token (the CLI opens each once per command).
 */

/** What a token tells about its user PIN (token flags). */
export interface PinStatus {
  /** CKF_USER_PIN_COUNT_LOW: a wrong PIN was entered since the last good one. */
  countLow: boolean;
  /** CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks it. */
  finalTry: boolean;
  /** CKF_USER_PIN_LOCKED. */
  locked: boolean;
  /** CKF_USER_PIN_TO_BE_CHANGED. */
  toBeChanged: boolean;
}

/** The PIN status of token flags; `tries` says what the token reports about the remaining tries. */
export function pinStatusOf(flags: number): PinStatus & { tries: "last" | "few" | "locked" | undefined } {
  const p = pkcs11Api();
  const s = {
    countLow: (flags & p.CKF_USER_PIN_COUNT_LOW) !== 0,
    finalTry: (flags & p.CKF_USER_PIN_FINAL_TRY) !== 0,
    locked: (flags & p.CKF_USER_PIN_LOCKED) !== 0,
    toBeChanged: (flags & p.CKF_USER_PIN_TO_BE_CHANGED) !== 0,
  };
  return { ...s, tries: s.locked ? "locked" : s.finalTry ? "last" : s.countLow ? "few" : undefined };
}

/** A slot handle as the number RFC 7512's slot-id means. */
export function slotNumber(slot: Buffer): number {
  return slot.length >= 8 ? Number(slot.readBigUInt64LE(0)) : slot.readUInt32LE(0);
}

function tokenMatches(u: Pkcs11Uri, slot: Buffer, lib: Pkcs11): boolean {
  if (u.slotId !== undefined && u.slotId !== slotNumber(slot)) return false;
  const si = lib.C_GetSlotInfo(slot);
  if (u.slotDescription !== undefined && p11Text(si.slotDescription) !== u.slotDescription) return false;
  if (u.slotManufacturer !== undefined && p11Text(si.manufacturerID) !== u.slotManufacturer) return false;
  const ti = lib.C_GetTokenInfo(slot);
  if (u.token !== undefined && p11Text(ti.label) !== u.token) return false;
  if (u.manufacturer !== undefined && p11Text(ti.manufacturerID) !== u.manufacturer) return false;
  if (u.serial !== undefined && p11Text(ti.serialNumber) !== u.serial) return false;
  if (u.model !== undefined && p11Text(ti.model) !== u.model) return false;
  return true;
}

export class TokenSession {
  private closed = false;
  private readonly ref: TokenSessionRef;

  private constructor(
    private readonly lib: Pkcs11,
    private readonly modulePath: string,
    private readonly slot: Buffer,
    private readonly uri: Pkcs11Uri,
    session: Buffer,
    readonly label: string,
    private readonly flags: number,
  ) {
    const mechanisms = new Set(lib.C_GetMechanismList(slot));
    this.ref = { lib, session, mechanisms, refused: new Set(), queue: Promise.resolve(), label };
  }

  /**
   * Opens a session on the token `uri` names, through the module at `modulePath`. PkiError TOKEN_MODULE (module
   * missing or broken), TOKEN_ABSENT (no present token matches; details.tokens lists those present).
   */
  static open(uri: Pkcs11Uri, modulePath: string): TokenSession {
    const lib = acquireModule(modulePath);
    try {
      const p = pkcs11Api();
      const slots = lib.C_GetSlotList(true);
      const slot = slots.find((s) => tokenMatches(uri, s, lib));
      if (!slot) {
        const present = slots.map((s) => p11Text(lib.C_GetTokenInfo(s).label));
        throw new PkiError("TOKEN_ABSENT", `No token matching ${describeUri(uri)} is present.`, {
          hint: present.length
            ? `Insert the card, or name one of the tokens present: ${present.join(", ")} (sealpost token list).`
            : "Insert the card (no token is present in any slot); `sealpost token list` shows the slots.",
          details: { tokens: present },
        });
      }
      const ti = lib.C_GetTokenInfo(slot);
      const session = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
      return new TokenSession(lib, modulePath, slot, uri, session, p11Text(ti.label), ti.flags);
    } catch (e) {
      releaseModule(modulePath);
      throw e;
    }
  }

  /** True when the token wants the user PIN before its private keys can be used. */
  get loginRequired(): boolean {
    return (this.flags & pkcs11Api().CKF_LOGIN_REQUIRED) !== 0;
  }

  /** The token's current PIN status (read afresh). */
  pinStatus(): ReturnType<typeof pinStatusOf> {
    return pinStatusOf(this.lib.C_GetTokenInfo(this.slot).flags);
  }

  /**
   * C_Login as the user. PkiError BAD_PIN for a wrong PIN, with details.tries = "few" | "last" when the token says
   * so (and a message naming it); PIN_LOCKED when the PIN is blocked. The PIN appears in no message.
   */
  login(pin: string): void {
    const p = pkcs11Api();
    try {
      this.lib.C_Login(this.ref.session, p.CKU_USER, pin);
    } catch (e) {
      const code = errCode(e);
      if (code === p.CKR_USER_ALREADY_LOGGED_IN) return;
      const status = this.pinStatus();
      if (code === p.CKR_PIN_LOCKED || status.locked) {
        throw new PkiError("PIN_LOCKED", `The PIN of the token ${this.label} is locked.`, {
          cause: e,
          hint: "Too many wrong PINs: ask your card administrator to unblock the card (with its PUK / SO PIN).",
          details: { tries: "locked" },
        });
      }
      if (code === p.CKR_PIN_INCORRECT || code === p.CKR_PIN_INVALID || code === p.CKR_PIN_LEN_RANGE) {
        const left =
          status.tries === "last"
            ? " Only one try is left before the token locks the PIN."
            : status.tries === "few"
              ? " The token reports that few tries are left."
              : "";
        throw new PkiError("BAD_PIN", `Wrong PIN for the token ${this.label}.${left}`, {
          cause: e,
          hint: "Type the PIN of this card again; it is never shown or logged.",
          details: { tries: status.tries ?? null },
        });
      }
      throw new PkiError("TOKEN", `The token ${this.label} refused the login (${errName(e)}).`, { cause: e });
    }
  }

  private find(template: { type: number; value?: unknown }[]): Buffer[] {
    const lib = this.lib;
    const s = this.ref.session;
    lib.C_FindObjectsInit(s, template as Parameters<Pkcs11["C_FindObjectsInit"]>[1]);
    try {
      const out: Buffer[] = [];
      for (;;) {
        const batch = lib.C_FindObjects(s, 64);
        out.push(...batch);
        if (batch.length < 64) return out;
      }
    } finally {
      lib.C_FindObjectsFinal(s);
    }
  }

  private attrs(h: Buffer, types: number[]): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    for (const t of types) {
      try {
        const [a] = this.lib.C_GetAttributeValue(this.ref.session, h, [{ type: t }]);
        if (a) out.set(t, a.value);
      } catch {
        // attribute absent or sensitive
      }
    }
    return out;
  }

  /**
   * The token's keys and certificates as a Keystore (entries hold TokenKey handles; each certificate must meet
   * sealpost's floor: WEAK_KEY/WEAK_ALGORITHM otherwise). NO_KEY when no private key with a certificate is found
   * (for example before login on a token that hides private objects).
   */
  keystore(): Keystore {
    const p = pkcs11Api();
    const u = this.uri;
    const source = describeUri(u);
    const certs: { id: Buffer | undefined; cert: CertInfo }[] = [];
    for (const h of this.find([{ type: p.CKA_CLASS, value: p.CKO_CERTIFICATE }])) {
      const a = this.attrs(h, [p.CKA_VALUE, p.CKA_ID]);
      const der = a.get(p.CKA_VALUE);
      if (!der) continue;
      try {
        certs.push({ id: a.get(p.CKA_ID), cert: parseCertificate(new Uint8Array(der)) });
      } catch {
        // not an X.509 certificate sealpost can read: skipped
      }
    }
    const template: { type: number; value?: unknown }[] = [{ type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY }];
    if (u.object !== undefined) template.push({ type: p.CKA_LABEL, value: u.object });
    if (u.id !== undefined) template.push({ type: p.CKA_ID, value: u.id });
    const keys = u.type && u.type !== "private" && u.type !== "cert" ? [] : this.find(template);
    const entries: KeyEntry[] = [];
    const all = certs.map((c) => c.cert);
    for (const h of keys) {
      const a = this.attrs(h, [p.CKA_ID, p.CKA_LABEL, p.CKA_KEY_TYPE, p.CKA_MODULUS]);
      const id = a.get(p.CKA_ID);
      const keyType = a.get(p.CKA_KEY_TYPE)?.readUInt32LE(0);
      const algorithm = keyType === p.CKK_RSA ? "rsa" : keyType === p.CKK_EC ? "ec" : undefined;
      if (!algorithm) continue;
      const modulus = a.get(p.CKA_MODULUS);
      const matching = certs.filter((c) => {
        if (c.cert.keyType !== algorithm) return false;
        if (id && c.id && id.equals(c.id)) return true;
        if (algorithm === "rsa" && modulus) {
          const n = Buffer.from(String(c.cert.publicKey.export({ format: "jwk" }).n), "base64url");
          return n.equals(modulus.subarray(modulus.findIndex((b) => b !== 0)));
        }
        return false;
      });
      matching.sort((x, y) => y.cert.notBefore.getTime() - x.cert.notBefore.getTime());
      const cert = matching[0]?.cert;
      if (!cert) continue;
      const label = a.get(p.CKA_LABEL)?.toString("utf8") ?? "";
      const key = new TokenKey(this.ref, h, algorithm, cert.publicKey, `token ${this.label} object ${label}`);
      entries.push({ key, cert, chain: buildChain(cert, all) });
    }
    if (entries.length === 0) {
      throw new PkiError("NO_KEY", `The token ${this.label} holds no private key with a certificate (${source}).`, {
        hint: "Check the URI's object/id (`sealpost token list` shows the objects), and that the PIN was given.",
        details: { source },
      });
    }
    for (const e of entries) assertStrongCertificate(e.cert);
    return { source, entries, close: async () => this.close() };
  }

  /**
   * Closes the session and releases the module. Idempotent. No explicit C_Logout: the login belongs to the whole
   * application (every session of this process on the token); closing the last session ends it (PKCS#11 C_CloseSession).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.lib.C_CloseSession(this.ref.session);
    } catch {
      // the token went away
    }
    releaseModule(this.modulePath);
  }
}

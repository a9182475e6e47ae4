import { createHash, type KeyObject } from "node:crypto";
import { PkiError } from "../errors.js";
import type { PrivateKeyHandle, RsaDecryption, SignatureMechanism, SignHash } from "../keys/handle.js";
import { CURVE_FIELD_BITS, unsupportedKeyOperation } from "../keys/software.js";
import type { ECDH1 } from "pkcs11js";
import { countTokenOperation, errCode, errName, type Pkcs11, pkcs11Api } from "./module.js";

/**
 * A private key on a PKCS#11 token. Every operation runs on the token (one C_Sign, C_Decrypt or C_DeriveKey), through
 * pkcs11js's asynchronous calls; operations on one session are queued, as PKCS#11 allows one at a time. The key
 * never leaves the token: hashing, DigestInfo, DER encoding of ECDSA signatures and the removal of OAEP/PKCS#1
 * padding after raw RSA happen here or in the caller.
 *
 * Mechanisms: RSA PKCS#1 v1.5 signatures as CKM_RSA_PKCS over a DigestInfo, PSS as CKM_RSA_PKCS_PSS and ECDSA as
 * CKM_ECDSA over a hash computed here (what SoftHSM 2.6 and most cards do); RSA decryption as CKM_RSA_PKCS_OAEP with
 * the file's parameters, or CKM_RSA_X_509 (raw) when the token refuses those parameters (SoftHSM 2.6 does OAEP
 * with SHA-1 only) or for PKCS#1 v1.5 (implicit rejection in the caller); ECDH as CKM_ECDH1_DERIVE (CKD_NULL) into
 * a session-only, extractable generic secret that is read and destroyed at once.
 */

const DIGEST_INFO: Record<SignHash, string> = {
  sha1: "3021300906052b0e03021a05000414",
  sha224: "302d300d06096086480165030402040500041c",
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
};

function hashMechanisms(hash: SignHash): { hashAlg: number; mgf: number } {
  const p = pkcs11Api();
  const t: Record<SignHash, [number, number]> = {
    sha1: [p.CKM_SHA_1, p.CKG_MGF1_SHA1],
    sha224: [p.CKM_SHA224, p.CKG_MGF1_SHA224],
    sha256: [p.CKM_SHA256, p.CKG_MGF1_SHA256],
    sha384: [p.CKM_SHA384, p.CKG_MGF1_SHA384],
    sha512: [p.CKM_SHA512, p.CKG_MGF1_SHA512],
  };
  const [hashAlg, mgf] = t[hash];
  return { hashAlg, mgf };
}

/** DER INTEGER of an unsigned big-endian value. */
function derInt(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  let b = v.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

/** An ECDSA signature r || s (PKCS#11 form) as a DER Ecdsa-Sig-Value. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInt(raw.subarray(0, half)), derInt(raw.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

/** The token's answer to what the caller must treat as "decryption failed" (padding, range), not as a fault. */
function isDecryptFailure(code: number | undefined): boolean {
  const p = pkcs11Api();
  return (
    code === p.CKR_ENCRYPTED_DATA_INVALID ||
    code === p.CKR_ENCRYPTED_DATA_LEN_RANGE ||
    code === p.CKR_DATA_INVALID ||
    code === p.CKR_DATA_LEN_RANGE ||
    code === p.CKR_GENERAL_ERROR // SoftHSM 2.6 answers a bad OAEP or PKCS#1 padding this way
  );
}

function isParamRefusal(code: number | undefined): boolean {
  const p = pkcs11Api();
  return code === p.CKR_ARGUMENTS_BAD || code === p.CKR_MECHANISM_PARAM_INVALID || code === p.CKR_MECHANISM_INVALID;
}

/** The session a token's keys share, with its queue and what it has learnt about the token's mechanisms. */
export interface TokenSessionRef {
  lib: Pkcs11;
  session: Buffer;
  mechanisms: Set<number>;
  /** Parameter sets the token refused (e.g. "oaep:sha256:sha256"): not tried again. */
  refused: Set<string>;
  queue: Promise<unknown>;
  label: string;
}

export class TokenKey implements PrivateKeyHandle {
  readonly location = "token" as const;
  readonly bits: number;
  readonly curve: string | undefined;

  constructor(
    private readonly ref: TokenSessionRef,
    private readonly handle: Buffer,
    readonly algorithm: "rsa" | "ec",
    readonly publicKey: KeyObject,
    readonly description: string,
  ) {
    const d = publicKey.asymmetricKeyDetails;
    this.curve = d?.namedCurve;
    this.bits = algorithm === "rsa" ? (d?.modulusLength ?? 0) : (CURVE_FIELD_BITS[d?.namedCurve ?? ""] ?? 0);
  }

  /** Runs `op` after the session's earlier operations. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.ref.queue.then(op, op);
    this.ref.queue = next.catch(() => undefined);
    return next;
  }

  private fault(what: string, e: unknown): PkiError {
    return new PkiError("TOKEN", `The token ${this.ref.label} refused ${what} (${errName(e)}).`, {
      cause: e,
      hint: "Check that the card is still inserted and unlocked, then try again.",
      details: { operation: what, ckr: errName(e) },
    });
  }

  async sign(data: Uint8Array, mech: SignatureMechanism): Promise<Buffer> {
    const p = pkcs11Api();
    if ((mech.scheme === "ecdsa") !== (this.algorithm === "ec")) {
      throw unsupportedKeyOperation(`${mech.scheme} signatures with an ${this.algorithm} key`);
    }
    const digest = createHash(mech.hash).update(data).digest();
    let mechanism: { mechanism: number; parameter?: unknown };
    let input: Buffer;
    if (mech.scheme === "ecdsa") {
      mechanism = { mechanism: p.CKM_ECDSA };
      input = digest;
    } else if (mech.scheme === "rsa-pss") {
      mechanism = {
        mechanism: p.CKM_RSA_PKCS_PSS,
        parameter: { type: p.CK_PARAMS_RSA_PSS, ...hashMechanisms(mech.hash), saltLen: mech.saltLength },
      };
      input = digest;
    } else {
      mechanism = { mechanism: p.CKM_RSA_PKCS };
      input = Buffer.concat([Buffer.from(DIGEST_INFO[mech.hash], "hex"), digest]);
    }
    return this.run(async () => {
      let out: Buffer;
      try {
        this.ref.lib.C_SignInit(this.ref.session, mechanism as Parameters<Pkcs11["C_SignInit"]>[1], this.handle);
        out = await this.ref.lib.C_SignAsync(this.ref.session, input, Buffer.alloc(1024));
      } catch (e) {
        throw this.fault(`a ${mech.scheme} signature`, e);
      }
      countTokenOperation();
      return mech.scheme === "ecdsa" ? ecdsaRawToDer(out) : Buffer.from(out);
    });
  }

  async rsaDecrypt(ciphertext: Uint8Array, mode: RsaDecryption): Promise<Buffer | null> {
    const p = pkcs11Api();
    if (this.algorithm !== "rsa") throw unsupportedKeyOperation("RSA decryption with an EC key");
    const k = Math.ceil(this.bits / 8);
    let mechanism: { mechanism: number; parameter?: unknown };
    let refusalKey: string;
    if (mode.padding === "raw") {
      if (!this.ref.mechanisms.has(p.CKM_RSA_X_509)) throw unsupportedKeyOperation("raw RSA on this token");
      if (ciphertext.length !== k) return null;
      mechanism = { mechanism: p.CKM_RSA_X_509 };
      refusalKey = "raw";
    } else if (mode.padding === "oaep") {
      refusalKey = `oaep:${mode.hash}:${mode.mgf1Hash}:${mode.label?.length ?? 0}`;
      if (this.ref.refused.has(refusalKey) || !this.ref.mechanisms.has(p.CKM_RSA_PKCS_OAEP)) {
        throw unsupportedKeyOperation(`RSA-OAEP with ${mode.hash} and MGF1-${mode.mgf1Hash} on this token`);
      }
      const { hashAlg } = hashMechanisms(mode.hash);
      const { mgf } = hashMechanisms(mode.mgf1Hash);
      mechanism = {
        mechanism: p.CKM_RSA_PKCS_OAEP,
        parameter: {
          type: p.CK_PARAMS_RSA_OAEP,
          hashAlg,
          mgf,
          source: 1, // CKZ_DATA_SPECIFIED
          ...(mode.label && mode.label.length > 0 ? { sourceData: Buffer.from(mode.label) } : {}),
        },
      };
    } else {
      mechanism = { mechanism: p.CKM_RSA_PKCS };
      refusalKey = "pkcs1";
    }
    return this.run(async () => {
      try {
        this.ref.lib.C_DecryptInit(this.ref.session, mechanism as Parameters<Pkcs11["C_DecryptInit"]>[1], this.handle);
      } catch (e) {
        if (isParamRefusal(errCode(e))) {
          this.ref.refused.add(refusalKey);
          throw unsupportedKeyOperation(`${refusalKey} decryption on this token`, { ckr: errName(e) });
        }
        throw this.fault("an RSA decryption", e);
      }
      let out: Buffer;
      try {
        out = await this.ref.lib.C_DecryptAsync(this.ref.session, Buffer.from(ciphertext), Buffer.alloc(k + 16));
      } catch (e) {
        const code = errCode(e);
        if (isParamRefusal(code) && mode.padding === "oaep") {
          this.ref.refused.add(refusalKey);
          throw unsupportedKeyOperation(`${refusalKey} decryption on this token`, { ckr: errName(e) });
        }
        if (isDecryptFailure(code)) {
          countTokenOperation();
          return null;
        }
        throw this.fault("an RSA decryption", e);
      }
      countTokenOperation();
      // Raw RSA answers k bytes; a token that drops leading zeros is padded back.
      if (mode.padding === "raw" && out.length < k) out = Buffer.concat([Buffer.alloc(k - out.length), out]);
      return Buffer.from(out);
    });
  }

  async ecdh(peer: KeyObject): Promise<Buffer> {
    const p = pkcs11Api();
    if (this.algorithm !== "ec") throw unsupportedKeyOperation("ECDH with an RSA key");
    if (peer.asymmetricKeyType !== "ec" || peer.asymmetricKeyDetails?.namedCurve !== this.curve) {
      throw new PkiError("MALFORMED", "The other party's key is not on the curve of this key.");
    }
    const jwk = peer.export({ format: "jwk" });
    const f = Math.ceil(this.bits / 8);
    const pad = (s: unknown) => {
      const b = Buffer.from(String(s), "base64url");
      return Buffer.concat([Buffer.alloc(f - b.length), b]);
    };
    const point = Buffer.concat([Buffer.from([4]), pad(jwk.x), pad(jwk.y)]);
    return this.run(async () => {
      const { lib, session } = this.ref;
      let secret: Buffer | undefined;
      try {
        secret = await lib.C_DeriveKeyAsync(
          session,
          {
            mechanism: p.CKM_ECDH1_DERIVE,
            parameter: { type: p.CK_PARAMS_EC_DH, kdf: p.CKD_NULL, publicData: point } as ECDH1,
          },
          this.handle,
          [
            { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
            { type: p.CKA_KEY_TYPE, value: p.CKK_GENERIC_SECRET },
            { type: p.CKA_TOKEN, value: false },
            { type: p.CKA_SENSITIVE, value: false },
            { type: p.CKA_EXTRACTABLE, value: true },
            { type: p.CKA_VALUE_LEN, value: f },
          ],
        );
        countTokenOperation();
        const [v] = lib.C_GetAttributeValue(session, secret, [{ type: p.CKA_VALUE }]);
        return Buffer.from(v!.value);
      } catch (e) {
        throw this.fault("an ECDH key agreement", e);
      } finally {
        if (secret) {
          try {
            lib.C_DestroyObject(session, secret);
          } catch {
            // a session object disappears with the session anyway
          }
        }
      }
    });
  }
}

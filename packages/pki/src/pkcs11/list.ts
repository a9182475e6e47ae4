import { parseCertificate } from "../cert.js";
import type { CertInfo } from "../types.js";
import { acquireModule, type Pkcs11, p11Text, pkcs11Api, releaseModule } from "./module.js";
import { pinStatusOf, slotNumber } from "./token.js";

/** What `sealpost token list` shows: every slot, its token and the objects readable without a PIN. */
export interface SlotListing {
  slotId: number;
  description: string;
  manufacturer: string;
  tokenPresent: boolean;
  token?: {
    label: string;
    manufacturer: string;
    model: string;
    serial: string;
    loginRequired: boolean;
    initialized: boolean;
    pin: ReturnType<typeof pinStatusOf>;
    /** Objects visible without logging in (private keys usually are not). */
    objects: ObjectListing[];
  };
}

export interface ObjectListing {
  class: "certificate" | "public-key" | "private-key" | "secret-key" | "data" | "other";
  label: string;
  /** CKA_ID as lower-case hex. */
  idHex: string;
  keyType?: "rsa" | "ec" | "other";
  /** Parsed certificate (certificates sealpost can read). */
  cert?: CertInfo;
}

/** Lists the slots of the module at `modulePath` without logging in. PkiError TOKEN_MODULE when it cannot load. */
export function listTokens(modulePath: string): SlotListing[] {
  const lib = acquireModule(modulePath);
  try {
    const p = pkcs11Api();
    return lib.C_GetSlotList(false).map((slot) => {
      const si = lib.C_GetSlotInfo(slot);
      const out: SlotListing = {
        slotId: slotNumber(slot),
        description: p11Text(si.slotDescription),
        manufacturer: p11Text(si.manufacturerID),
        tokenPresent: (si.flags & 0x1) !== 0, // CKF_TOKEN_PRESENT
      };
      if (!out.tokenPresent) return out;
      const ti = lib.C_GetTokenInfo(slot);
      const initialized = (ti.flags & p.CKF_TOKEN_INITIALIZED) !== 0;
      out.token = {
        label: p11Text(ti.label),
        manufacturer: p11Text(ti.manufacturerID),
        model: p11Text(ti.model),
        serial: p11Text(ti.serialNumber),
        loginRequired: (ti.flags & p.CKF_LOGIN_REQUIRED) !== 0,
        initialized,
        pin: pinStatusOf(ti.flags),
        objects: initialized ? publicObjects(lib, slot) : [],
      };
      return out;
    });
  } finally {
    releaseModule(modulePath);
  }
}

function publicObjects(lib: Pkcs11, slot: Buffer): ObjectListing[] {
  const p = pkcs11Api();
  const s = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
  try {
    lib.C_FindObjectsInit(s, []);
    const handles: Buffer[] = [];
    try {
      for (;;) {
        const batch = lib.C_FindObjects(s, 64);
        handles.push(...batch);
        if (batch.length < 64) break;
      }
    } finally {
      lib.C_FindObjectsFinal(s);
    }
    const get = (h: Buffer, t: number): Buffer | undefined => {
      try {
        return lib.C_GetAttributeValue(s, h, [{ type: t }])[0]?.value;
      } catch {
        return undefined;
      }
    };
    const classes: Record<number, ObjectListing["class"]> = {
      [p.CKO_CERTIFICATE]: "certificate",
      [p.CKO_PUBLIC_KEY]: "public-key",
      [p.CKO_PRIVATE_KEY]: "private-key",
      [p.CKO_SECRET_KEY]: "secret-key",
      [p.CKO_DATA]: "data",
    };
    return handles.map((h) => {
      const cls = get(h, p.CKA_CLASS)?.readUInt32LE(0);
      const o: ObjectListing = {
        class: (cls !== undefined && classes[cls]) || "other",
        label: get(h, p.CKA_LABEL)?.toString("utf8") ?? "",
        idHex: get(h, p.CKA_ID)?.toString("hex") ?? "",
      };
      if (o.class === "public-key" || o.class === "private-key") {
        const kt = get(h, p.CKA_KEY_TYPE)?.readUInt32LE(0);
        o.keyType = kt === p.CKK_RSA ? "rsa" : kt === p.CKK_EC ? "ec" : "other";
      }
      if (o.class === "certificate") {
        const der = get(h, p.CKA_VALUE);
        try {
          if (der) o.cert = parseCertificate(new Uint8Array(der));
        } catch {
          // shown without details
        }
      }
      return o;
    });
  } finally {
    lib.C_CloseSession(s);
  }
}

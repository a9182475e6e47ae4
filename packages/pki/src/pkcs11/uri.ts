import { PkiError } from "../errors.js";

/**
 * RFC 7512 PKCS#11 URIs: `pkcs11:token=王建民;object=sign?module-path=/usr/lib/softhsm/libsofthsm2.so`. Path
 * attributes select the token (token, manufacturer, serial, model, slot-id, slot-description, slot-manufacturer,
 * library-*) and the objects (object = CKA_LABEL, id = CKA_ID, type); query attributes name the module
 * (module-path, module-name). A PIN never travels in a URI: pin-value and pin-source are refused (a URI is an
 * argument, visible to other users).
 */
export interface Pkcs11Uri {
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  slotId?: number;
  slotDescription?: string;
  slotManufacturer?: string;
  libraryManufacturer?: string;
  libraryDescription?: string;
  /** CKA_LABEL of the objects. */
  object?: string;
  /** CKA_ID of the objects. */
  id?: Buffer;
  type?: "private" | "public" | "cert" | "secret-key" | "data";
  modulePath?: string;
  moduleName?: string;
}

/** True when `s` is a pkcs11: URI (scheme compared case-insensitively). */
export function isPkcs11Uri(s: string): boolean {
  return /^pkcs11:/i.test(s);
}

function bad(message: string): PkiError {
  return new PkiError("MALFORMED", `The PKCS#11 URI is not valid: ${message}.`, {
    hint: 'Write it as pkcs11:token=LABEL;object=LABEL (RFC 7512), e.g. "pkcs11:token=My%20Card;object=sign".',
  });
}

function decode(v: string, what: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === "%") {
      const h = v.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw bad(`a bad percent-escape in ${what}`);
      out.push(Number.parseInt(h, 16));
      i += 2;
    } else out.push(...Buffer.from(c, "utf8"));
  }
  return Buffer.from(out);
}

const TEXT_PATH: Record<string, keyof Pkcs11Uri> = {
  token: "token",
  manufacturer: "manufacturer",
  serial: "serial",
  model: "model",
  "slot-description": "slotDescription",
  "slot-manufacturer": "slotManufacturer",
  "library-manufacturer": "libraryManufacturer",
  "library-description": "libraryDescription",
  object: "object",
};

/** Parses a pkcs11: URI. PkiError MALFORMED for syntax errors, duplicate or PIN attributes. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!isPkcs11Uri(uri)) throw bad("it does not start with pkcs11:");
  const rest = uri.slice(uri.indexOf(":") + 1);
  const q = rest.indexOf("?");
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? "" : rest.slice(q + 1);
  const out: Pkcs11Uri = {};
  const seen = new Set<string>();
  const take = (name: string) => {
    if (seen.has(name)) throw bad(`the attribute ${name} appears twice`);
    seen.add(name);
  };
  for (const part of path ? path.split(";") : []) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw bad(`"${part}" is not name=value`);
    const name = part.slice(0, eq).toLowerCase();
    const value = part.slice(eq + 1);
    take(name);
    const field = TEXT_PATH[name];
    if (field) (out as Record<string, unknown>)[field] = decode(value, name).toString("utf8");
    else if (name === "id") out.id = decode(value, name);
    else if (name === "slot-id") {
      if (!/^\d+$/.test(value)) throw bad("slot-id is not a number");
      out.slotId = Number(value);
    } else if (name === "type") {
      if (!["private", "public", "cert", "secret-key", "data"].includes(value)) throw bad(`unknown type ${value}`);
      out.type = value as Pkcs11Uri["type"];
    } else if (name === "library-version") {
      // accepted and ignored: sealpost selects modules by path
    } else if (name === "pin-value" || name === "pin-source") {
      throw pinInUri(name);
    }
    // other (vendor) attributes are ignored, as RFC 7512 allows
  }
  for (const part of query ? query.split("&") : []) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw bad(`"${part}" is not name=value`);
    const name = part.slice(0, eq).toLowerCase();
    const value = decode(part.slice(eq + 1), name).toString("utf8");
    take(name);
    if (name === "module-path") out.modulePath = value;
    else if (name === "module-name") out.moduleName = value;
    else if (name === "pin-value" || name === "pin-source") throw pinInUri(name);
  }
  return out;
}

function pinInUri(name: string): PkiError {
  return new PkiError(
    "MALFORMED",
    `The PKCS#11 URI carries a PIN (${name}): sealpost never takes a PIN from an argument.`,
    {
      hint: "Remove it from the URI; give the PIN at the prompt, in SEALPOST_PIN, or with --pin-file.",
    },
  );
}

/** The URI without query attributes, for messages (never holds a PIN: those are refused). */
export function describeUri(u: Pkcs11Uri): string {
  const parts: string[] = [];
  if (u.token !== undefined) parts.push(`token=${u.token}`);
  if (u.serial !== undefined) parts.push(`serial=${u.serial}`);
  if (u.slotId !== undefined) parts.push(`slot-id=${u.slotId}`);
  if (u.object !== undefined) parts.push(`object=${u.object}`);
  if (u.id !== undefined) parts.push(`id=${[...u.id].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}`);
  return `pkcs11:${parts.join(";")}`;
}

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CliError } from "./errors.js";

/**
 * The CLI's defaults, from a JSON file: `--config FILE`, else $SEALPOST_CONFIG, else
 * `$XDG_CONFIG_HOME/sealpost/config.json` (XDG_CONFIG_HOME defaults to ~/.config). A missing default file means no
 * defaults; a missing file named explicitly is an error. Relative paths in the file are relative to the file's folder.
 * Options given on the command line replace these defaults (a --trust list replaces "trust", and so on).
 * Unknown fields are kept in `extra` (the remote commands read their own).
 */
export interface CliConfig {
  /** Where the config was read from, or undefined when no file exists. */
  path: string | undefined;
  /** Trust anchor certificate files (PEM bundle or DER): the roots you trust (e.g. the GRCA). */
  trust: string[];
  /** Intermediate CA certificate files used to build paths (e.g. GCA, MOICA). */
  intermediates: string[];
  /** CRL files (DER or PEM) always loaded. */
  crls: string[];
  /** A folder of CRL files (*.crl, *.pem) handed to the trust policy. */
  crlDir: string | undefined;
  /** Revocation policy: "require" (default), "prefer" (check when possible, warn otherwise), or "off". */
  revocation: "require" | "prefer" | "off" | undefined;
  /** Fetch CRLs from the certificates' distribution points (default false). */
  fetchCrls: boolean;
  /** Default keystore (PKCS#12 file, a PEM key used with `cert`, or a pkcs11: URI). */
  keystore: string | undefined;
  /** Certificate (or bundle) for a PEM `keystore`. */
  cert: string | undefined;
  /** The relay server's URL (used by the remote commands). */
  server: string | undefined;
  /**
   * A CA certificate file (PEM, may hold several) trusted for the relay server's TLS certificate besides the
   * system's roots: an internal CA. The default for --ca.
   */
  ca: string | undefined;
  /**
   * Your agency (code or name, e.g. "KHH-TAX"), for the forwarded-file check of `open`; default: the O and OU of the
   * certificate that decrypts the file.
   */
  agency: string | undefined;
  /** PKCS#11 module (.so) for `pkcs11:` keys whose URI has no module-path. */
  pkcs11Module: string | undefined;
  /**
   * Refuse to send to an agency that publishes no signed recipient roster (default false: such an agency is sent to
   * with a warning; an agency whose roster this CLI saw before is always refused without one).
   */
  requireRosters: boolean;
  /** All other fields, untouched. */
  extra: Record<string, unknown>;
}

/** The documented fields, in help order: name, type, meaning. */
export const CONFIG_FIELDS: ReadonlyArray<[string, string, string]> = [
  ["trust", "string[]", "trust anchor certificate files (roots): the default for --trust"],
  ["intermediates", "string[]", "intermediate CA certificate files: the default for --intermediate"],
  ["crls", "string[]", "CRL files: the default for --crl"],
  ["crlDir", "string", "folder of CRL files (*.crl, *.pem)"],
  [
    "revocation",
    '"require"|"prefer"|"off"',
    "revocation checking (default require: no current CRL for a certificate = refused)",
  ],
  ["fetchCrls", "boolean", "fetch CRLs from distribution points (default false)"],
  ["keystore", "string", "default --key (PKCS#12 file, or PEM key with cert)"],
  ["cert", "string", "default --cert for a PEM keystore"],
  ["server", "string", "relay server URL (remote commands)"],
  [
    "ca",
    "string",
    "CA certificate (PEM) trusted for the server's TLS certificate besides the system's: the default for --ca",
  ],
  [
    "agency",
    "string",
    "your agency (code or name) for open's forwarded-file check (default: your certificate's O / OU)",
  ],
  ["pkcs11Module", "string", "PKCS#11 module (.so) of your IC card, for --key pkcs11:... URIs without module-path"],
  ["requireRosters", "boolean", "refuse to send to an agency without a signed recipient roster (default false: warn)"],
];

/** The default config path for an environment: $SEALPOST_CONFIG, else $XDG_CONFIG_HOME or ~/.config. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): { path: string; explicit: boolean } {
  if (env.SEALPOST_CONFIG) return { path: resolve(env.SEALPOST_CONFIG), explicit: true };
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return { path: join(base, "sealpost", "config.json"), explicit: false };
}

/**
 * Loads the config. `explicitPath` (from --config) wins over the environment. Throws CliError CONFIG for invalid
 * JSON or a field of the wrong type, IO when an explicitly named file cannot be read.
 */
export async function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const where = explicitPath ? { path: resolve(explicitPath), explicit: true } : defaultConfigPath(env);
  let text: string;
  try {
    text = await readFile(where.path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!where.explicit && code === "ENOENT") return emptyConfig();
    throw new CliError("IO", `Cannot read the config file ${where.path} (${code ?? "error"}).`, {
      cause: e,
      hint: "Check the path given by --config or SEALPOST_CONFIG.",
    });
  }
  return parseConfig(text, where.path);
}

/** An empty config (no file). */
export function emptyConfig(): CliConfig {
  return {
    path: undefined,
    trust: [],
    intermediates: [],
    crls: [],
    crlDir: undefined,
    revocation: undefined,
    fetchCrls: false,
    keystore: undefined,
    cert: undefined,
    server: undefined,
    ca: undefined,
    agency: undefined,
    pkcs11Module: undefined,
    requireRosters: false,
    extra: {},
  };
}

/** Parses and checks config JSON read from `path` (relative paths are resolved against its folder). */
export function parseConfig(text: string, path: string): CliConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError("CONFIG", `The config file ${path} is not valid JSON: ${(e as Error).message}.`, {
      hint: "Fix the file or point SEALPOST_CONFIG elsewhere; `sealpost --help` lists its fields.",
    });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CliError("CONFIG", `The config file ${path} must hold one JSON object.`);
  }
  const obj = raw as Record<string, unknown>;
  const base = dirname(path);
  const bad = (field: string, want: string) =>
    new CliError("CONFIG", `In the config file ${path}, "${field}" must be ${want}.`, {
      hint: "`sealpost --help` lists the config fields and their types.",
    });
  const str = (field: string): string | undefined => {
    const v = obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" || v === "") throw bad(field, "a non-empty string");
    return v;
  };
  const file = (field: string): string | undefined => {
    const v = str(field);
    if (v !== undefined && /^pkcs11:/i.test(v)) return v;
    return v === undefined ? undefined : resolve(base, expandHome(v));
  };
  const files = (field: string): string[] => {
    const v = obj[field];
    if (v === undefined || v === null) return [];
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string" && x !== "")) {
      throw bad(field, "a list of file paths");
    }
    return list.map((x: string) => resolve(base, expandHome(x)));
  };
  const revocation = str("revocation");
  if (revocation !== undefined && !["require", "prefer", "off"].includes(revocation)) {
    throw bad("revocation", '"require", "prefer" or "off"');
  }
  const fetchCrls = obj.fetchCrls;
  if (fetchCrls !== undefined && typeof fetchCrls !== "boolean") throw bad("fetchCrls", "true or false");
  const requireRosters = obj.requireRosters;
  if (requireRosters !== undefined && typeof requireRosters !== "boolean") throw bad("requireRosters", "true or false");
  const known = new Set(CONFIG_FIELDS.map(([k]) => k));
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!known.has(k)) extra[k] = v;
  return {
    path,
    trust: files("trust"),
    intermediates: files("intermediates"),
    crls: files("crls"),
    crlDir: file("crlDir"),
    revocation: revocation as CliConfig["revocation"],
    fetchCrls: fetchCrls === true,
    keystore: file("keystore"),
    cert: file("cert"),
    server: str("server"),
    ca: file("ca"),
    agency: str("agency"),
    pkcs11Module: file("pkcs11Module"),
    requireRosters: requireRosters === true,
    extra,
  };
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

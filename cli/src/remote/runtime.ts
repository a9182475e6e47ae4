import { type CertInfo, type Keystore, parseCertificates, type TrustPolicy } from "@sealpost/pki";
import type { ProfileRecipient } from "@sealpost/protocol";
import type { Command } from "commander";
import { resolve } from "node:path";
import { type CliConfig, defaultConfigPath, loadConfig } from "../config.js";
import { usageError } from "../errors.js";
import { loadKeys } from "../keys.js";
import { Output } from "../output.js";
import { buildTrust } from "../trust.js";
import { RemoteClient } from "./client.js";
import { loadSession } from "./session.js";

/** What a remote command's action works with: output, environment, config, and (lazily) the logged-in client. */
export interface RemoteRuntime {
  out: Output;
  env: NodeJS.ProcessEnv;
  config: CliConfig;
  /** The config file in use (--config, else $SEALPOST_CONFIG, else the default path), whether or not it exists. */
  configPath: string;
  /** The CA file trusted for the server's TLS certificate (--ca, else the config's "ca"), if any. */
  ca: string | undefined;
  /**
   * A client with this config's login for the config's server (session.ts loadSession: NOT_LOGGED_IN when there is
   * none, SESSION_SERVER_MISMATCH when the login is for another server).
   */
  client(): Promise<RemoteClient>;
}

/** The config file a command uses: --config, else $SEALPOST_CONFIG, else the default path. */
export function configPathOf(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  return explicit ? resolve(explicit) : defaultConfigPath(env).path;
}

/** Builds the runtime from a command's global options (--json, --quiet, --config). */
export async function runtimeOf(cmd: Command): Promise<RemoteRuntime> {
  const g = cmd.optsWithGlobals<{ json?: boolean; quiet?: boolean; config?: string; ca?: string }>();
  const env = process.env;
  const out = new Output({ json: !!g.json, quiet: !!g.quiet });
  const config = await loadConfig(g.config, env);
  const configPath = configPathOf(g.config, env);
  const ca = g.ca ? resolve(g.ca) : config.ca;
  return {
    out,
    env,
    config,
    configPath,
    ca,
    async client() {
      const s = await loadSession(env, configPath, config.server);
      return new RemoteClient(s.server, s.token, { ca });
    },
  };
}

/** Options shared by commands that need the user's keystore. */
export interface KeyOpts {
  key?: string;
  cert?: string;
  pinFile?: string;
}

export async function keystoreOf(rt: RemoteRuntime, o: KeyOpts): Promise<Keystore> {
  const { keystore } = await loadKeys(
    { key: o.key, cert: o.cert, pinFile: o.pinFile },
    {
      config: rt.config,
      env: rt.env,
      warn: (t) => rt.out.warn(t),
      notice: (t) => rt.out.stderr.write(`sealpost: ${t}\n`),
    },
  );
  return keystore;
}

export interface TrustOpts {
  trust?: string[];
  intermediate?: string[];
  crl?: string[];
  revocation?: "require" | "prefer" | "off";
}

/** The trust policy from --trust/--intermediate/--crl or the config; a usage error when no anchor is configured. */
export async function trustOf(
  rt: RemoteRuntime,
  o: TrustOpts,
): Promise<{ policy: TrustPolicy; intermediates: CertInfo[] }> {
  const t = await buildTrust(o, rt.config);
  if (!t.policy) {
    throw usageError(
      "No trust anchor: sealpost checks every certificate the server hands out against your own roots.",
      'Pass --trust ROOT.pem (and --intermediate, --crl), or set "trust" in the config file.',
    );
  }
  return { policy: t.policy, intermediates: t.intermediates };
}

/**
 * Validates each recipient certificate of a profile with the user's trust policy (purpose encrypt, now): the CLI
 * never seals to a certificate only because the server said so. Returns the parsed certificates.
 */
export async function validateRecipients(
  recipients: ProfileRecipient[],
  trust: { policy: TrustPolicy; intermediates: CertInfo[] },
): Promise<CertInfo[]> {
  const out: CertInfo[] = [];
  for (const r of recipients) {
    const [cert, ...chain] = parseCertificates(r.certificate.pem);
    if (!cert) throw usageError(`The server sent no certificate for ${r.email}.`);
    await trust.policy.validate(cert, { purpose: "encrypt", intermediates: [...chain, ...trust.intermediates] });
    out.push(cert);
  }
  return out;
}

/**
 * The sender's file name (manifest fileName, taken from a file the sender signed but that anyone could have
 * written) reduced to a name that is safe to create in the output folder, or undefined when there is none: only
 * its last path component ("/" and "\\" both separate), never ".", "..", a hidden name (leading ".") or one longer
 * than 255 UTF-8 bytes. Every character that is not shown as itself is replaced with "_": C0/C1 controls (NUL, ESC
 * ...), format characters (bidirectional controls U+202A-202E, U+2066-2069, U+200E/F, U+061C, zero-width ones,
 * U+FEFF ...), the line and paragraph separators U+2028/2029 and lone surrogates, so a name such as
 * "report\u202Evsc.exe" cannot pass for another ("report_vsc.exe").
 */
export function safeFileName(fileName: string | undefined): string | undefined {
  if (typeof fileName !== "string") return undefined;
  const name = (fileName.split(/[/\\]/).pop() ?? "").replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, "_");
  if (name === "" || name.startsWith(".")) return undefined;
  if (Buffer.byteLength(name, "utf8") > 255) return undefined;
  return name;
}

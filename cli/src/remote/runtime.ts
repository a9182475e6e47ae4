import { rename, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { type CertInfo, type Keystore, parseCertificates, type TrustPolicy } from "@sealpost/pki";
import type { ProfileRecipient } from "@sealpost/protocol";
import type { Command } from "commander";
import { type CliConfig, loadConfig } from "../config.js";
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
  /** A client with the saved session's token (NOT_LOGGED_IN when there is none). */
  client(): Promise<RemoteClient>;
}

/** Builds the runtime from a command's global options (--json, --quiet, --config). */
export async function runtimeOf(cmd: Command): Promise<RemoteRuntime> {
  const g = cmd.optsWithGlobals<{ json?: boolean; quiet?: boolean; config?: string }>();
  const env = process.env;
  const out = new Output({ json: !!g.json, quiet: !!g.quiet });
  const config = await loadConfig(g.config, env);
  return {
    out,
    env,
    config,
    async client() {
      const s = await loadSession(env);
      return new RemoteClient(s.server, s.token);
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

/** Renames an opened file to the name the sender gave (manifest fileName) when that name is free. */
export async function nameFromManifest(dir: string, opened: string, fileName: string | undefined): Promise<string> {
  if (!fileName) return opened;
  const target = join(dir, basename(fileName));
  try {
    await stat(target);
    return opened;
  } catch {
    await rename(opened, target);
    return target;
  }
}

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SealpostClient } from "@sealpost/client";
import { keySigner } from "@sealpost/client/node";
import { type KeyEntry, loadKeystore, pickKey } from "@sealpost/pki";
import { initDataDir, type RunningServer, silentLogger, startServer } from "@sealpost/server";

/** The repository root, the `sealpost` binary and the fixture PKI. */
export const repoRoot = resolve(import.meta.dirname, "../..");
export const bin = join(repoRoot, "cli/bin/sealpost.js");
export const pkiDir = join(repoRoot, "fixtures/pki");

/**
 * Shared plumbing of the repository-level tests that need a real relay server (in-process, loopback port) and the
 * CLI or the client: the fixture manifest with its paths left relative to fixtures/pki (resolve them with `pki`),
 * the server over a fresh data folder, the `sealpost` binary run as a fixture person, and the fixture registry set
 * up through the admin API with @sealpost/client.
 */
export const M = JSON.parse(readFileSync(join(pkiDir, "manifest.json"), "utf8"));
/** A path inside fixtures/pki made absolute. */
export const pki = (p: string) => join(pkiDir, p);

/** The signing key of fixture person `id` (from the person's PKCS#12 keystore). */
export const keyOf = async (id: string): Promise<KeyEntry> =>
  pickKey(await loadKeystore(pki(M.people[id].p12), { pin: M.people[id].pin }), "sign");

/** A client of `url` logged in as fixture person `id` (signed login with the person's signing key). */
export async function clientAs(url: string, id: string): Promise<SealpostClient> {
  const key = await keyOf(id);
  const client = new SealpostClient({ server: url });
  if (!key.privateKey) throw new Error(`fixture ${id}: the signing key is not in this process`);
  await client.loginWith(keySigner(key.privateKey, key.cert.sha256));
  return client;
}

export interface TestRelay {
  /** The temp folder holding the server's data folder (`data`) and whatever the test puts there. */
  work: string;
  server: RunningServer;
  /** Closes the server, then removes `work`. The caller must call it (afterAll). */
  close(): Promise<void>;
}

/**
 * Starts a relay server on 127.0.0.1 (a free port) over a data folder initialised in a new temp folder named
 * `prefix`...: the fixture root as trust, the fixture intermediate, both fixture CRLs, and fixture person ops-wu as
 * the first administrator (named as the certificate's CN, the server's default, or explicitly when `adminName`).
 * Logs go nowhere. On failure the temp folder is removed before the error is rethrown.
 */
export async function startRelay(prefix: string, opts: { adminName?: boolean } = {}): Promise<TestRelay> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  try {
    const admin = M.people["ops-wu"];
    await initDataDir({
      data: join(work, "data"),
      trust: pki(M.root.cert),
      intermediates: pki(M.intermediate.cert),
      crl: [pki(M.intermediate.crl), pki(M.root.crl)],
      adminCert: pki(admin.sign.cert),
      ...(opts.adminName ? { adminName: admin.name } : {}),
      adminEmail: admin.email,
      adminAgency: admin.agency,
      log: silentLogger,
    });
    const server = await startServer(join(work, "data"), { listen: "127.0.0.1:0", log: silentLogger });
    return {
      work,
      server,
      async close() {
        await server.close();
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Runs the `sealpost` binary as fixture person `id` against `relay`: the person's own config folder under
 * `work/home/<id>` (server URL, fixture trust, intermediates, CRLs, the person's keystore, then `opts.config`'s
 * fields), the PIN through SEALPOST_PIN (`opts.pin`, default the person's), the rest of this process's environment
 * inherited plus `opts.env`. Asserts nothing about the exit code.
 */
export async function sealpostAs(
  relay: TestRelay,
  id: string,
  args: string[],
  opts: { pin?: string; config?: Record<string, unknown>; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = M.people[id];
  const dir = join(relay.work, "home", id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      server: relay.server.url,
      trust: [pki(M.root.cert)],
      intermediates: [pki(M.intermediate.cert)],
      crls: [pki(M.intermediate.crl), pki(M.root.crl)],
      keystore: pki(p.p12),
      ...opts.config,
    }),
  );
  const child = spawn(process.execPath, [bin, ...args], {
    env: {
      ...process.env,
      SEALPOST_CONFIG: join(dir, "config.json"),
      SEALPOST_PIN: opts.pin ?? p.pin,
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = (await once(child, "close")) as [number];
  return { code, stdout, stderr };
}

/** The subject rules of a fixture agency: its certificates carry O=<agency name> and OU=<agency code>. */
export const fixtureSubjectRules = (code: string): string[] => [`O=${M.agencies[code].name}`, `OU=${code}`];

/**
 * Through the admin API as ops-wu (signed login): registers agencies KHH-SOC and KHH-TAX (with their subject
 * rules), staff soc-chen and tax-wang under the names their certificates carry, with their sign and encrypt
 * certificates, and category C.
 */
export async function registerFixtureRegistry(url: string): Promise<void> {
  const admin = await clientAs(url, "ops-wu");
  for (const code of ["KHH-SOC", "KHH-TAX"]) {
    await admin.addAgency({
      body: {
        code,
        name: M.agencies[code].name,
        email: M.agencies[code].email,
        subjectRules: fixtureSubjectRules(code),
      },
    });
  }
  for (const id of ["soc-chen", "tax-wang"]) {
    const p = M.people[id];
    await admin.addStaff({ body: { agency: p.agency, name: p.name, email: p.email } });
    for (const purpose of ["sign", "encrypt"]) {
      await admin.addCertificate({ body: { staff: p.email, pem: readFileSync(pki(p[purpose].cert), "utf8") } });
    }
  }
  await admin.addCategory({ body: { code: "C", name: "c", purpose: "test" } });
}

import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ApiError, SealpostClient } from "@sealpost/client";
import { keySigner } from "@sealpost/client/node";
import type { KeyEntry } from "@sealpost/pki";
import { parseCertificate, parseCertificates } from "@sealpost/pki";
import { canonicalJson, type LoginResponse } from "@sealpost/protocol";
import { initDataDir } from "../src/commands/init.js";
import { silentLogger } from "../src/log.js";
import { createTestDatabase, TEST_DB } from "./helpers/postgres.js";
import { type RunningServer, startServer } from "../src/server.js";

/** Shared test fixtures and a small HTTP client for server tests (fictional test PKI under fixtures/pki). */
export const REPO = resolve(import.meta.dirname, "../..");
export const PKI = join(REPO, "fixtures/pki");

interface Person {
  name: string;
  agency: string;
  role: "staff" | "admin" | "ops";
  email: string;
  sign: { cert: string; key: string };
  encrypt: { cert: string; key: string };
  p12: string;
  pin: string;
}
export const MANIFEST = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8")) as {
  agencies: Record<string, { name: string; email: string }>;
  people: Record<string, Person>;
  root: { cert: string; crl: string };
  intermediate: { cert: string; crl: string };
};
export const person = (id: string): Person => MANIFEST.people[id]!;
export const pkiPath = (p: string) => join(PKI, p);

/** A person's key entry (signing or encryption) from the fixture PEM files. */
export function keyEntry(id: string, purpose: "sign" | "encrypt"): KeyEntry {
  const p = person(id)[purpose];
  return {
    privateKey: createPrivateKey(readFileSync(pkiPath(p.key))),
    cert: parseCertificate(readFileSync(pkiPath(p.cert), "utf8")),
    chain: parseCertificates(readFileSync(pkiPath(MANIFEST.intermediate.cert), "utf8")),
  };
}

/**
 * A receipt request signed by fixture person `id` with their signing key: the statement that the case's `kind` file
 * with SHA-256 `sha256` was opened (time: now). Posting it to `/v1/cases/:id/receipts` moves a sent case to received
 * (a processed case to result_received).
 */
export function signedReceipt(id: string, caseId: string, kind: "payload" | "result", sha256: string) {
  const k = keyEntry(id, "sign");
  const statement = { type: "sealpost-receipt", caseId, kind, sha256, time: new Date().toISOString() };
  return {
    certSha256: k.cert.sha256,
    statement,
    signature: sign("sha256", Buffer.from(canonicalJson(statement)), k.privateKey!).toString("base64"),
  };
}

/**
 * A fresh data folder initialised with the fixture trust (root, GCA, both CRLs) and ops-wu as first admin, on this
 * run's database (SQLite in the folder, or a new database of the run's PostgreSQL cluster). `cleanup()` removes both.
 * `beforeInit` runs on the empty folder first.
 */
export async function freshDataDir(
  options: { beforeInit?: (dir: string) => void } = {},
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-server-"));
  options.beforeInit?.(dir);
  const admin = person("ops-wu");
  const pg = TEST_DB === "postgres" ? await createTestDatabase() : undefined;
  await initDataDir({
    ...(pg ? { db: pg.config.url, dbPasswordFile: pg.config.passwordFile } : {}),
    data: dir,
    trust: pkiPath(MANIFEST.root.cert),
    intermediates: pkiPath(MANIFEST.intermediate.cert),
    crl: [pkiPath(MANIFEST.intermediate.crl), pkiPath(MANIFEST.root.crl)],
    adminCert: pkiPath(admin.sign.cert),
    adminName: admin.name,
    adminEmail: admin.email,
    adminAgency: admin.agency,
    log: silentLogger,
  });
  return {
    dir,
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
      await pg?.drop();
    },
  };
}

export async function startTestServer(dir: string, config: Record<string, unknown> = {}): Promise<RunningServer> {
  return startServer(dir, { listen: "127.0.0.1:0", log: silentLogger, config });
}

/** A JSON response: status and parsed body. */
// biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field
export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * Raw HTTP for tests that check what goes over the wire (statuses, error bodies, malformed input): `call` answers
 * every status without throwing. `client` is the typed @sealpost/client of the same server and token, which the
 * helpers use to log in and register fixtures.
 */
export class Api {
  readonly client: SealpostClient;

  constructor(
    readonly url: string,
    token?: string,
  ) {
    this.client = new SealpostClient({ server: url, ...(token ? { token } : {}) });
  }

  get token(): string | undefined {
    return this.client.token;
  }

  set token(t: string | undefined) {
    this.client.token = t;
  }

  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      payload = body;
      h["content-type"] ??= "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] = "application/json";
    }
    const r = await fetch(this.url + path, { method, headers: h, body: payload });
    const text = await r.text();
    let parsed: unknown = text;
    if (r.headers.get("content-type")?.includes("json") && text) parsed = JSON.parse(text);
    return { status: r.status, body: parsed as T, headers: r.headers };
  }

  /**
   * Logs in as a fixture person with their signing key (through the client); sets the token. A refusal throws an
   * Error whose message names the status and the error body ("login: 403 {...LOGIN_FAILED...}").
   */
  async login(id: string): Promise<LoginResponse> {
    const k = keyEntry(id, "sign");
    try {
      return await this.client.loginWith(keySigner(k.privateKey, k.cert.sha256));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      throw new Error(`login: ${e.status} ${JSON.stringify({ error: e.toJSON() })}`, { cause: e });
    }
  }
}

/** The subject rules of a fixture agency: its certificates carry O=<agency name> and OU=<agency code>. */
export const fixtureSubjectRules = (code: string): string[] => [`O=${MANIFEST.agencies[code]!.name}`, `OU=${code}`];

/**
 * Registers the fixture agencies (KHH-SOC, KHH-TAX with their subject rules; SEALPOST-OPS exists from init and gets
 * its rules), every fixture person with both certificates (ops-wu's encryption certificate too), and one category
 * "WELFARE-TAX". `admin` is logged in.
 */
export async function registerFixtures(admin: Api): Promise<void> {
  const api = admin.client;
  for (const [code, a] of Object.entries(MANIFEST.agencies)) {
    if (code === "SEALPOST-OPS") {
      await api.updateAgency({ params: { code }, body: { subjectRules: fixtureSubjectRules(code) } });
      continue;
    }
    await api.addAgency({
      body: { code, name: a.name, email: a.email, allowCidrs: [], subjectRules: fixtureSubjectRules(code) },
    });
  }
  for (const [id, p] of Object.entries(MANIFEST.people)) {
    if (id !== "ops-wu") {
      await api.addStaff({ body: { agency: p.agency, name: p.name, email: p.email, role: p.role } });
    }
    for (const purpose of ["sign", "encrypt"] as const) {
      if (id === "ops-wu" && purpose === "sign") continue;
      const pem = readFileSync(pkiPath(p[purpose].cert), "utf8");
      await api.addCertificate({ body: { staff: p.email, pem, purpose } });
    }
  }
  await api.addCategory({
    body: {
      code: "WELFARE-TAX",
      name: "社會救助資格財稅查調",
      purpose: "Checking welfare applicants' income and assets (fictional test category).",
    },
  });
}

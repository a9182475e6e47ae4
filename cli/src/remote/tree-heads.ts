import { createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ApiError, SealpostClient } from "@sealpost/client";
import { EXIT_CODES } from "@sealpost/protocol";
import {
  auditKeyFingerprint,
  decodeTreeHead,
  describeTreeHead,
  normalizeFingerprint,
  type SignedTreeHead,
  TREE_HEAD_HEADER,
  verifyConsistency,
  verifyTreeHead,
} from "@sealpost/protocol/transparency";
import { RemoteError } from "./errors.js";
import { sessionPath } from "./session.js";

/**
 * The CLI's side of the relay's transparency log. For each server (by API base URL) it keeps, in
 * `audit-heads.json` beside the session file (mode 0600), the pinned audit key and the largest signed tree head it
 * has verified. Every response's Sealpost-Tree-Head is checked (TreeHeadGuard.check): its signature with the pinned
 * key, then a consistency proof (GET /v1/audit/consistency) from the kept head to the new one, or from the new one
 * to the kept one when the server answers with an older head. A head signed by another key, a log that shrank
 * (the server cannot prove the kept head) or forked (the proof fails) stops the CLI: RemoteError with exit 6 and a
 * message naming both heads. First use pins the server's key and says so (like SSH known_hosts); `sealpost login
 * --audit-key` pins a given one.
 */

/** What the file keeps per server. */
interface ServerRecord {
  auditKey: { fingerprint: string; publicKeyPem: string; pinnedAt: string };
  head?: SignedTreeHead;
}
interface HeadsFile {
  version: 1;
  servers: Record<string, ServerRecord>;
}

/** The file beside the session (session.json's folder): audit-heads.json. */
export function treeHeadsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(sessionPath(env)), "audit-heads.json");
}

async function readHeads(env: NodeJS.ProcessEnv): Promise<HeadsFile> {
  let text: string;
  try {
    text = await readFile(treeHeadsPath(env), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, servers: {} };
    throw e;
  }
  try {
    const f = JSON.parse(text) as HeadsFile;
    if (f.version === 1 && f.servers && typeof f.servers === "object") return f;
  } catch {
    /* fall through */
  }
  throw new RemoteError("CONFIG", `${treeHeadsPath(env)} is not a sealpost tree head file.`, {
    exitCode: EXIT_CODES.USAGE,
    hint: "Restore it from a backup; removing it makes the next call trust the server's key on first use again.",
  });
}

/** Writes the file: a new file (0600) renamed over the old, so a crash never leaves half of it. */
async function writeHeads(env: NodeJS.ProcessEnv, f: HeadsFile): Promise<void> {
  const p = treeHeadsPath(env);
  await mkdir(dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

const inconsistent = (code: string, message: string, hint: string, details: Record<string, unknown>) =>
  new RemoteError(code, message, { exitCode: EXIT_CODES.INTEGRITY, hint, details });

const REPORT =
  "The relay's audit log was rewritten, or this is not the relay you used before. Keep ~/.config/sealpost/audit-heads.json as evidence and report it to your agency's security officer.";

/** Options of a TreeHeadGuard. */
export interface TreeHeadGuardOptions {
  env?: NodeJS.ProcessEnv;
  /** Hears the first-use pin message. Default: standard error, "sealpost: ...". */
  notice?: (text: string) => void;
  /** The fetch the proof requests go through (default: the global fetch); `--ca` gives one trusting an internal CA. */
  fetch?: typeof globalThis.fetch;
}

/** Checks the tree heads of one server's responses (see the module comment). */
export class TreeHeadGuard {
  readonly #base: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #notice: (text: string) => void;
  readonly #raw: SealpostClient;
  #key: KeyObject | undefined;
  #fingerprint: string | undefined;
  /** The largest head verified in this process. */
  #verified: SignedTreeHead | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(base: string, options: TreeHeadGuardOptions = {}) {
    this.#base = base;
    this.#env = options.env ?? process.env;
    this.#notice = options.notice ?? ((t) => process.stderr.write(`sealpost: ${t}\n`));
    this.#raw = new SealpostClient({ server: base, ...(options.fetch ? { fetch: options.fetch } : {}) });
  }

  /** The largest head verified so far in this process (undefined before the first response). */
  get verified(): SignedTreeHead | undefined {
    return this.#verified;
  }

  /** The pinned key's fingerprint, once known. */
  get fingerprint(): string | undefined {
    return this.#fingerprint;
  }

  /** Checks the head a response carries; responses are checked one at a time, in order. */
  check(response: Response): Promise<void> {
    const value = response.headers.get(TREE_HEAD_HEADER);
    // A gateway's error page (502, 504 ...) never carries a head: it is reported as the failure it is.
    if (value === null && response.status >= 500) return Promise.resolve();
    const run = this.#queue.then(() => this.#check(value));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Verifies a head given in a body (GET /v1/audit/head) like one from a header. */
  verifyHead(head: SignedTreeHead): Promise<void> {
    const run = this.#queue.then(() => this.#accept(head));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #check(value: string | null): Promise<void> {
    if (value === null) {
      const record = (await readHeads(this.#env)).servers[this.#base];
      if (!record) return; // a relay without a transparency log, never pinned
      throw inconsistent(
        "TREE_HEAD_MISSING",
        `${this.#base} answered without a signed tree head, though you pinned its audit key ${record.auditKey.fingerprint}.`,
        REPORT,
        { server: this.#base },
      );
    }
    let head: SignedTreeHead;
    try {
      head = decodeTreeHead(value);
    } catch (e) {
      throw inconsistent("TREE_HEAD_MALFORMED", (e as Error).message, REPORT, { server: this.#base });
    }
    await this.#accept(head);
  }

  async #accept(head: SignedTreeHead): Promise<void> {
    const v = this.#verified;
    if (v && v.treeSize === head.treeSize && v.rootHash === head.rootHash && v.signature === head.signature) return;
    const file = await readHeads(this.#env);
    let record = file.servers[this.#base];
    if (!record) record = await this.#pinOnFirstUse();
    this.#useKey(record);
    const kept = larger(record.head, v);
    if (!verifyTreeHead(head, this.#key!)) {
      throw inconsistent(
        "TREE_HEAD_UNTRUSTED",
        `${this.#base} sent a tree head (${describeTreeHead(head)}) that is not signed by the audit key you pinned (${this.#fingerprint}); the last head you verified: ${kept ? describeTreeHead(kept) : "none"}.`,
        `${REPORT} If the relay's operator announced a new audit key, pin it with: sealpost login --audit-key FINGERPRINT`,
        { server: this.#base, head, kept: kept ?? null, pinned: this.#fingerprint },
      );
    }
    if (kept) await this.#consistent(kept, head);
    this.#verified = larger(v, head);
    if (!record.head || head.treeSize > record.head.treeSize) {
      // Re-read: another sealpost process may have kept a larger head meanwhile.
      const fresh = await readHeads(this.#env);
      const r = fresh.servers[this.#base] ?? record;
      if (!r.head || head.treeSize > r.head.treeSize) {
        fresh.servers[this.#base] = { ...r, head };
        await writeHeads(this.#env, fresh);
      }
    }
  }

  /** Proves that the smaller of the two heads is a prefix of the larger one, with the server's proof. */
  async #consistent(kept: SignedTreeHead, head: SignedTreeHead): Promise<void> {
    const [older, newer] = head.treeSize >= kept.treeSize ? [kept, head] : [head, kept];
    const both = `the head you kept (${describeTreeHead(kept)}) and the one just received (${describeTreeHead(head)})`;
    const details = { server: this.#base, kept, received: head };
    if (older.treeSize === newer.treeSize) {
      if (older.rootHash === newer.rootHash) return;
      throw inconsistent(
        "AUDIT_LOG_FORKED",
        `${this.#base}'s audit log forked: ${both} differ at the same size.`,
        REPORT,
        details,
      );
    }
    let proof: string[];
    try {
      proof = (await this.#raw.getConsistencyProof({ query: { from: older.treeSize, to: newer.treeSize } })).proof;
    } catch (e) {
      if (e instanceof ApiError && e.code === "BAD_REQUEST") {
        throw inconsistent(
          "AUDIT_LOG_SHRANK",
          `${this.#base}'s audit log shrank: it cannot prove ${both}; its log is now shorter than ${newer.treeSize} entries.`,
          REPORT,
          details,
        );
      }
      throw e;
    }
    const ok = verifyConsistency(
      older.treeSize,
      newer.treeSize,
      Buffer.from(older.rootHash, "hex"),
      Buffer.from(newer.rootHash, "hex"),
      proof.map((h) => Buffer.from(h, "hex")),
    );
    if (!ok) {
      throw inconsistent(
        "AUDIT_LOG_FORKED",
        `${this.#base}'s audit log was rewritten: ${both} are not consistent (the consistency proof fails).`,
        REPORT,
        details,
      );
    }
  }

  #useKey(record: ServerRecord): void {
    if (this.#fingerprint === record.auditKey.fingerprint) return;
    this.#key = createPublicKey(record.auditKey.publicKeyPem);
    this.#fingerprint = auditKeyFingerprint(this.#key);
    if (this.#fingerprint !== record.auditKey.fingerprint) {
      throw new RemoteError("CONFIG", `${treeHeadsPath(this.#env)} holds a key that does not match its fingerprint.`, {
        exitCode: EXIT_CODES.USAGE,
      });
    }
  }

  async #pinOnFirstUse(): Promise<ServerRecord> {
    const info = await this.#raw.getAuditKey();
    const key = createPublicKey(info.publicKeyPem);
    const fingerprint = auditKeyFingerprint(key);
    const record = await pinKey(this.#base, key, this.#env);
    this.#notice(
      `pinned the audit key of ${this.#base} on first use: SHA-256 ${fingerprint}. Check it against the fingerprint your relay's operator published (sealpost-server audit key show); from now on a head signed by any other key is refused.`,
    );
    return record;
  }
}

/** The larger of two heads by size (either may be absent). */
function larger(a: SignedTreeHead | undefined, b: SignedTreeHead | undefined): SignedTreeHead | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.treeSize > a.treeSize ? b : a;
}

/** Pins `key` for `base`, keeping the head already kept. */
async function pinKey(base: string, key: KeyObject, env: NodeJS.ProcessEnv): Promise<ServerRecord> {
  const file = await readHeads(env);
  const record: ServerRecord = {
    ...file.servers[base],
    auditKey: {
      fingerprint: auditKeyFingerprint(key),
      publicKeyPem: key.export({ type: "spki", format: "pem" }).toString(),
      pinnedAt: new Date().toISOString(),
    },
  };
  file.servers[base] = record;
  await writeHeads(env, file);
  return record;
}

/**
 * `sealpost login --audit-key`: pins the audit key given as a SHA-256 fingerprint (the server's key must have it)
 * or as a file holding the public key (PEM SubjectPublicKeyInfo). Returns the fingerprint pinned. A file that holds
 * a private key is refused (USAGE) without being used; a fingerprint the server's key does not have is exit 6.
 */
export async function pinAuditKey(
  base: string,
  given: string,
  env: NodeJS.ProcessEnv = process.env,
  fetch?: typeof globalThis.fetch,
): Promise<string> {
  const fp = normalizeFingerprint(given);
  let key: KeyObject;
  if (fp) {
    const info = await new SealpostClient({ server: base, ...(fetch ? { fetch } : {}) })
      .getAuditKey()
      .catch((e: unknown) => {
        if (e instanceof ApiError) {
          throw new RemoteError(e.code, `Cannot fetch ${base}'s audit key: ${e.message}`, {
            ...(e.status !== undefined ? { status: e.status } : {}),
          });
        }
        throw e;
      });
    key = createPublicKey(info.publicKeyPem);
    const actual = auditKeyFingerprint(key);
    if (actual !== fp) {
      throw inconsistent(
        "AUDIT_KEY_MISMATCH",
        `${base}'s audit key has fingerprint ${actual}, not the ${fp} you gave.`,
        "Check the fingerprint with the relay's operator; you may be talking to another server.",
        { server: base, expected: fp, actual },
      );
    }
  } else {
    let pem: string;
    try {
      pem = await readFile(given, "utf8");
    } catch (e) {
      throw new RemoteError("USAGE", `--audit-key ${given} is neither a SHA-256 fingerprint nor a readable file.`, {
        exitCode: EXIT_CODES.USAGE,
        cause: e,
      });
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new RemoteError(
        "USAGE",
        `${given} holds a private key; give the audit key's public key or its fingerprint.`,
        {
          exitCode: EXIT_CODES.USAGE,
        },
      );
    }
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new RemoteError("USAGE", `${given} does not hold a public key (PEM).`, {
        exitCode: EXIT_CODES.USAGE,
        cause: e,
      });
    }
    if (key.asymmetricKeyType !== "ed25519") {
      throw new RemoteError("USAGE", `${given} is not an Ed25519 audit key.`, { exitCode: EXIT_CODES.USAGE });
    }
  }
  await pinKey(base, key, env);
  return auditKeyFingerprint(key);
}

/** The audit key fingerprint pinned for `base`, if any. */
export async function pinnedFingerprint(
  base: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  return (await readHeads(env)).servers[base]?.auditKey.fingerprint;
}

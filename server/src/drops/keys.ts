import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import ssh2 from "ssh2";
import { ServerError } from "../errors.js";
import { DropError } from "./errors.js";

// ssh2 is CommonJS: Node exposes only some of its names as ESM named exports, so take utils off the default export.
const { utils: sshUtils } = ssh2;

/**
 * Storage of drops' SSH private keys: one file per drop at `<data>/drops/keys/<name>`, mode 0600, in a folder of mode
 * 0700. Keys never go to the database, the logs or any API response; the API accepts a key once, on `POST /v1/drops`.
 */

/** Path of a drop's private key file. `name` must already be a valid drop name (no path separators). */
export function dropKeyPath(dataDir: string, name: string): string {
  return path.join(dataDir, "drops", "keys", name);
}

/**
 * Checks that `pem` is an unencrypted SSH private key ssh2 can use (OpenSSH, PKCS#1 or PKCS#8 PEM; RSA, ECDSA or
 * Ed25519). Throws ServerError BAD_REQUEST otherwise (a passphrase-protected key: a message that says so and
 * details.reason "passphrase"); the message never quotes the key.
 */
export function checkPrivateKey(pem: string): void {
  const parsed = sshUtils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const encrypted =
      /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem) ||
      (key instanceof Error && /encrypted|passphrase/i.test(key.message));
    if (encrypted) {
      throw new ServerError(
        "BAD_REQUEST",
        "The SFTP private key is protected by a passphrase; a drop runs unattended and cannot type one.",
        {
          hint: "Give the drop its own key without a passphrase (ssh-keygen -t ed25519 -N '' -f drop-key), stored only on the relay, and authorise its public key on the agency's SFTP account.",
          details: { reason: "passphrase" },
        },
      );
    }
    throw new ServerError("BAD_REQUEST", "The SFTP private key could not be read.", {
      hint: "Give an OpenSSH or PEM private key (RSA, ECDSA or Ed25519), the whole file including its BEGIN/END lines.",
    });
  }
  if (key.isPrivateKey() !== true) {
    throw new ServerError("BAD_REQUEST", "The SFTP key given is a public key; the drop needs the private key.");
  }
}

/**
 * A key written to a temp file (mode 0600, folder 0700) beside its final place: `commit()` renames it into place,
 * `discard()` removes it. Lets the caller record the drop in the database between the two, so a refused insert
 * never leaves or replaces a key file.
 */
export interface StagedKey {
  commit(): Promise<void>;
  discard(): Promise<void>;
}

export async function stageDropKey(dataDir: string, name: string, pem: string): Promise<StagedKey> {
  const dest = dropKeyPath(dataDir, name);
  await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
  await chmod(path.dirname(dest), 0o700);
  const tmp = `${dest}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, pem.endsWith("\n") ? pem : `${pem}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return {
    commit: () => rename(tmp, dest),
    discard: () => rm(tmp, { force: true }),
  };
}

/** Reads a drop's key; throws DropError KEY_MISSING when the file is absent or unreadable. */
export async function readDropKey(dataDir: string, name: string): Promise<string> {
  try {
    return await readFile(dropKeyPath(dataDir, name), "utf8");
  } catch (e) {
    throw new DropError("KEY_MISSING", `The private key of drop "${name}" is missing from the server's data folder.`, {
      cause: e,
      hint: `Put the key back at drops/keys/${name} (mode 0600) in the data folder, or add the drop again with its key.`,
    });
  }
}

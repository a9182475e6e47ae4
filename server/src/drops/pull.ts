import { rm } from "node:fs/promises";
import { posix } from "node:path";
import { isSealpostError, type SealpostError } from "@sealpost/protocol";
import { DropError } from "./errors.js";
import type { RunContext } from "./run-context.js";
import { MAX_SIDECAR_BYTES, parseSidecar } from "./sidecar.js";
import type { DropFileRecord } from "./repository.js";

/**
 * One attempt of a pull run: take every complete sealed file from the agency's SFTP outbox, register it as a case
 * payload, then move it (with its sidecar and marker) to `processed/`, or to `failed/` with NAME.error.txt.
 *
 * Remote layout (folder = the drop's remoteDir):
 *   NAME.p7m         the sealed file
 *   NAME.p7m.json    its sidecar (case fields, see sidecar.ts)
 *   NAME.p7m.done    optional empty marker
 *   processed/       files registered as cases (created when missing)
 *   failed/          refused files, each with NAME.error.txt giving the reason
 *
 * Completion (drop.completion): "sidecar" takes NAME.p7m once NAME.p7m.json exists (write the sidecar last);
 * "marker" waits for NAME.p7m.done (write it last). Anything else is left alone: a file still being written is
 * never read as complete.
 *
 * Order of effects, so a crash at any point loses nothing and registers nothing twice: download to a temp file and
 * hash; if drop_files already holds this SHA-256 as registered, only finish the move; else record "registering",
 * register (server-core commits the case), record "registered" with the case id and the audit entry, then move
 * the files, then record "moved". Nothing is deleted remotely; files are only renamed after the case is committed.
 */
export async function pullOnce(ctx: RunContext): Promise<void> {
  const { drop, session } = ctx;
  const dir = drop.remoteDir;
  const { entries, truncated } = await session.listSome(dir, ctx.maxListEntries);
  if (truncated) {
    const message = `The outbox ${dir} holds more than ${ctx.maxListEntries} entries; only the first ${ctx.maxListEntries} listed were looked at, the rest waits for the next run.`;
    ctx.progress.errors.push({ at: ctx.now().toISOString(), code: "LIST_TRUNCATED", message });
    ctx.log.warn("drops: outbox listing truncated", {
      drop: drop.name,
      runId: ctx.runId,
      maxEntries: ctx.maxListEntries,
    });
  }
  const files = new Map(
    entries.filter((e) => e.type === "file" && isPlainRemoteName(e.name)).map((e) => [e.name, e.size]),
  );
  const ready = [...files.keys()]
    .filter((n) => n.endsWith(".p7m") && files.has(`${n}${drop.completion === "marker" ? ".done" : ".json"}`))
    .sort();
  const orphans = await findOrphans(ctx, files);
  if (ready.length === 0 && orphans.length === 0) return;
  await session.ensureDir(posix.join(dir, "processed"));
  await session.ensureDir(posix.join(dir, "failed"));
  for (const o of orphans) await finishMove(ctx, o, files);
  for (const name of ready) await pullFile(ctx, name, files);
}

/**
 * True for a remote name the pull may touch: one plain file name, never a path. The listing comes from the agency's
 * server, which could name "../x.p7m" or "sub/x.p7m" and so make the relay read and rename files outside the drop's
 * folder. Refused: "/", "\\", control characters (NUL included), "." and "..", hidden names (leading "."; often
 * files still being uploaded), more than 255 UTF-8 bytes. Such entries are ignored, like anything not complete.
 */
export function isPlainRemoteName(name: string): boolean {
  return (
    name !== "" &&
    !name.startsWith(".") &&
    !/[/\\\u0000-\u001f\u007f]/.test(name) &&
    Buffer.byteLength(name, "utf8") <= 255
  );
}

/** Sidecars and markers left behind by a crash between moving NAME.p7m and moving its companions. */
async function findOrphans(ctx: RunContext, files: Map<string, number>): Promise<DropFileRecord[]> {
  const out: DropFileRecord[] = [];
  const seen = new Set<string>();
  for (const n of files.keys()) {
    const m = /^(.*\.p7m)\.(json|done)$/.exec(n);
    if (!m || files.has(m[1]!) || seen.has(m[1]!)) continue;
    const rec = await ctx.drops((r) => r.pendingMove(ctx.drop.name, m[1]!));
    if (rec?.movedTo) {
      seen.add(m[1]!);
      out.push(rec);
    }
  }
  return out;
}

function companions(name: string, files: Map<string, number>): string[] {
  return [name, `${name}.json`, `${name}.done`].filter((n) => files.has(n));
}

/** Picks the target base name in `folder` (NAME, or NAME-<time> when NAME.p7m is taken there). */
async function targetBase(ctx: RunContext, name: string, folder: "processed" | "failed"): Promise<string> {
  const base = name.slice(0, -".p7m".length);
  const taken = await ctx.session.size(posix.join(ctx.drop.remoteDir, folder, name));
  if (taken === undefined) return posix.join(folder, base);
  const stamp = ctx
    .now()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return posix.join(folder, `${base}-${stamp}`);
}

/** Renames whichever of NAME.p7m / .json / .done are still in the outbox to the recorded target, then records it. */
async function finishMove(ctx: RunContext, rec: DropFileRecord, files: Map<string, number>): Promise<void> {
  const dir = ctx.drop.remoteDir;
  for (const n of companions(rec.remoteName, files)) {
    const suffix = n.slice(rec.remoteName.length - ".p7m".length);
    await ctx.session.rename(posix.join(dir, n), posix.join(dir, `${rec.movedTo}${suffix}`));
    files.delete(n);
  }
  await ctx.drops((r) => r.markMoved(ctx.drop.name, rec.sha256));
}

/** How much of a file too large to take is read, to identify it in the records (its first 64 MiB). */
export const OVERSIZED_HASH_BYTES = 64 * 1024 * 1024;

async function pullFile(ctx: RunContext, name: string, files: Map<string, number>): Promise<void> {
  const { drop, session } = ctx;
  const dir = drop.remoteDir;
  if ((files.get(name) ?? 0) > ctx.maxFileBytes) {
    // Identified by the SHA-256 of its first bytes only: reading a file of any size whole just to refuse it
    // would let the agency's server make the relay read without end.
    const { sha256, size, hashedBytes } = await session.hash(posix.join(dir, name), OVERSIZED_HASH_BYTES);
    const e = new DropError(
      "REJECTED",
      `The file is ${size} bytes, more than the ${ctx.maxFileBytes} bytes the server accepts.`,
      {
        hint: "Split the batch into smaller files, or ask the server's operators to raise maxUploadBytes.",
      },
    );
    return await reject(ctx, name, sha256, size, e, files, hashedBytes);
  }
  const temp = ctx.newTempPath();
  try {
    const { sha256, size } = await session.download(posix.join(dir, name), temp, ctx.maxFileBytes);
    const prior = await ctx.drops((r) => r.pulledFile(drop.name, sha256));
    let caseId =
      prior?.outcome === "registered" || prior?.outcome === "processed" ? (prior.caseId ?? undefined) : undefined;
    if (prior?.outcome === "registering") {
      caseId = await ctx.sink.findCaseByPayload(sha256, drop.agency);
      if (caseId) await recordRegistered(ctx, name, sha256, size, caseId, true);
    }
    if (caseId) {
      // Registered before (crash or lost connection between commit and move): finish the move, never register again.
      ctx.emit({ drop: drop.name, runId: ctx.runId, name, stage: "recovered", sha256, caseId });
      await moveTo(ctx, name, sha256, "processed", files);
      ctx.emit({ drop: drop.name, runId: ctx.runId, name, stage: "processed", sha256, caseId });
      return;
    }
    let fields: ReturnType<typeof parseSidecar>;
    try {
      const sidecarName = `${name}.json`;
      if (!files.has(sidecarName)) {
        throw new DropError("BAD_SIDECAR", `The sidecar ${sidecarName} is missing.`, {
          hint: "Write NAME.p7m.json with the case fields before the NAME.p7m.done marker.",
        });
      }
      if ((files.get(sidecarName) ?? 0) > MAX_SIDECAR_BYTES) {
        throw new DropError("BAD_SIDECAR", `The sidecar ${sidecarName} is larger than ${MAX_SIDECAR_BYTES} bytes.`);
      }
      fields = parseSidecar(await session.readSmall(posix.join(dir, sidecarName), MAX_SIDECAR_BYTES));
      await ctx.inspect(temp);
    } catch (e) {
      if (e instanceof DropError && !e.retryable) return await reject(ctx, name, sha256, size, e, files);
      throw e;
    }
    await ctx.drops((r) => r.markRegistering(drop.name, name, sha256, size, ctx.runId));
    try {
      ({ caseId } = await ctx.sink.registerPayload(fields, {
        tempPath: temp,
        sha256,
        size,
        drop: drop.name,
        remoteName: name,
        dropAgency: drop.agency,
      }));
    } catch (e) {
      if (isSealpostError(e) && !(e instanceof DropError && e.retryable)) {
        return await reject(ctx, name, sha256, size, e, files);
      }
      throw e;
    }
    await recordRegistered(ctx, name, sha256, size, caseId, false);
    ctx.emit({ drop: drop.name, runId: ctx.runId, name, stage: "registered", sha256, caseId });
    await moveTo(ctx, name, sha256, "processed", files);
    ctx.emit({ drop: drop.name, runId: ctx.runId, name, stage: "processed", sha256, caseId });
  } finally {
    await rm(temp, { force: true });
  }
}

async function recordRegistered(
  ctx: RunContext,
  name: string,
  sha256: string,
  size: number,
  caseId: string,
  recovered: boolean,
): Promise<void> {
  const { drop } = ctx;
  await ctx.db.tx(async (uow) => {
    await uow.drops.setPullOutcome(drop.name, sha256, "registered", {
      caseId,
      runId: ctx.runId,
      remoteName: name,
      size,
    });
    await ctx.audit(uow, {
      actor: `drop:${drop.name}`,
      role: "system",
      agency: drop.agency,
      action: "drop.pull.registered",
      caseId,
      fileSha256: [sha256],
      source: drop.host,
      detail: { drop: drop.name, remoteName: name, size, runId: ctx.runId, ...(recovered ? { recovered: true } : {}) },
    });
  });
  ctx.progress.files += 1;
  ctx.progress.bytes += size;
}

/** Records the target, then renames NAME.p7m, its sidecar and its marker into `folder`, then records the move. */
async function moveTo(
  ctx: RunContext,
  name: string,
  sha256: string,
  folder: "processed" | "failed",
  files: Map<string, number>,
): Promise<void> {
  const movedTo = await targetBase(ctx, name, folder);
  await ctx.drops((r) => r.setMoveTarget(ctx.drop.name, sha256, name, movedTo));
  const rec = (await ctx.drops((r) => r.pulledFile(ctx.drop.name, sha256)))!;
  await finishMove(ctx, rec, files);
}

interface NoteCert {
  commonName?: string;
  serialHex?: string;
  sha256?: string;
}
interface NoteRecipient {
  type?: string;
  issuer?: string;
  serialHex?: string;
  subjectKeyIdHex?: string;
}

/**
 * For a recipients mismatch, the lines of the refusal note that say what to fix: the certificates the case
 * expected (name, serial, SHA-256) and the recipients the file names (issuer and serial, or key id), each marked.
 */
function recipientLines(e: SealpostError): string[] {
  const d = e.details as
    | { expectedCertificates?: NoteCert[]; found?: NoteRecipient[]; missing?: NoteCert[]; unexpected?: NoteRecipient[] }
    | undefined;
  if (e.code !== "RECIPIENTS_MISMATCH" || !d?.expectedCertificates || !d.found) return [];
  const missing = new Set((d.missing ?? []).map((m) => m.sha256));
  const unexpected = d.unexpected ?? [];
  const isUnexpected = (r: NoteRecipient) =>
    unexpected.some(
      (u) => u.issuer === r.issuer && u.serialHex === r.serialHex && u.subjectKeyIdHex === r.subjectKeyIdHex,
    );
  const who = (r: NoteRecipient) =>
    r.subjectKeyIdHex
      ? `subjectKeyIdentifier ${r.subjectKeyIdHex}`
      : `${r.issuer ?? "(no issuer)"}, serial ${r.serialHex ?? "?"}`;
  return [
    "",
    "Expected recipient certificates (seal to exactly these, from the case's transfer profile):",
    ...d.expectedCertificates.map(
      (c) =>
        `  - ${c.commonName ?? "?"}, serial ${c.serialHex ?? "?"}, SHA-256 ${c.sha256 ?? "?"}${missing.has(c.sha256) ? "  <- missing from the file" : ""}`,
    ),
    "Recipients found in the file:",
    ...(d.found.length === 0 ? ["  (none)"] : []),
    ...d.found.map(
      (r) => `  - ${r.type ?? "?"}: ${who(r)}${isUnexpected(r) ? "  <- not one of the expected certificates" : ""}`,
    ),
  ];
}

/** A refused file: record the reason (drop_files, audit, run errors), write failed/NAME.error.txt, move it there. */
async function reject(
  ctx: RunContext,
  name: string,
  sha256: string,
  size: number,
  e: SealpostError,
  files: Map<string, number>,
  hashedBytes = size,
): Promise<void> {
  const { drop } = ctx;
  const at = ctx.now().toISOString();
  const reason = e.message;
  await ctx.db.tx(async (uow) => {
    await uow.drops.setPullOutcome(drop.name, sha256, "failed", {
      error: `${e.code}: ${reason}`,
      runId: ctx.runId,
      remoteName: name,
      size,
    });
    await ctx.audit(uow, {
      actor: `drop:${drop.name}`,
      role: "system",
      agency: drop.agency,
      action: "drop.pull.rejected",
      fileSha256: [sha256],
      source: drop.host,
      detail: {
        drop: drop.name,
        remoteName: name,
        size,
        ...(hashedBytes < size ? { hashedBytes } : {}),
        code: e.code,
        reason,
        runId: ctx.runId,
      },
    });
  });
  ctx.progress.errors.push({ at, code: e.code, message: reason, file: name });
  const movedTo = await targetBase(ctx, name, "failed");
  const text = [
    `sealpost refused ${name} (drop ${drop.name}) at ${at}.`,
    "",
    `Reason (${e.code}): ${reason}`,
    ...(e.hint ? [`What to do: ${e.hint}`] : []),
    ...recipientLines(e),
    "",
    hashedBytes < size ? `SHA-256 of the first ${hashedBytes} bytes: ${sha256}` : `SHA-256: ${sha256}`,
    `Size: ${size} bytes`,
    "",
  ].join("\n");
  await ctx.session.writeText(posix.join(drop.remoteDir, `${movedTo}.error.txt`), text);
  await ctx.drops((r) => r.setMoveTarget(drop.name, sha256, name, movedTo));
  await finishMove(ctx, (await ctx.drops((r) => r.pulledFile(drop.name, sha256)))!, files);
  ctx.emit({ drop: drop.name, runId: ctx.runId, name, stage: "rejected", sha256, reason: `${e.code}: ${reason}` });
}

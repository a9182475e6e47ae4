import { posix } from "node:path";
import { DropError } from "./errors.js";
import type { Deliverable } from "./ports.js";
import type { RunContext } from "./run-context.js";

/**
 * One attempt of a push run: deliver every sealed file addressed to the drop's agency (payloads of cases it
 * receives, results of cases it sent; see DeliverySource) into its SFTP inbox.
 *
 * Each file is written as NAME.part and renamed to NAME only once every byte is there and the remote size matches,
 * so the agency never sees a partial NAME. The delivery is recorded in drop_files and the audit log after the
 * rename. Pushing twice does no harm: a file recorded as delivered is skipped, and a remote NAME that already has
 * the expected size (delivered before a crash could record it) is recorded as delivered without writing again. A
 * different file already named NAME is left untouched and reported in the run's errors.
 */
export async function pushOnce(ctx: RunContext): Promise<void> {
  for (const item of await ctx.deliveries.pending(ctx.drop.agency)) {
    const done = await ctx.drops((r) => r.pushedFile(ctx.drop.name, item.caseId, item.kind));
    if (done?.outcome === "delivered" && done.sha256 === item.sha256) continue;
    await pushFile(ctx, item);
  }
}

async function pushFile(ctx: RunContext, item: Deliverable): Promise<void> {
  const { drop, session } = ctx;
  if (item.fileName.includes("/") || item.fileName.startsWith(".")) {
    throw new Error(`refusing remote file name ${JSON.stringify(item.fileName)}`);
  }
  const final = posix.join(drop.remoteDir, item.fileName);
  const part = `${final}.part`;
  const existing = await session.size(final);
  if (existing === item.size) {
    await record(ctx, item, true);
    ctx.emit({
      drop: drop.name,
      runId: ctx.runId,
      name: item.fileName,
      stage: "skipped",
      sha256: item.sha256,
      caseId: item.caseId,
    });
    return;
  }
  if (existing !== undefined) {
    const e = new DropError(
      "SFTP_IO",
      `A different file named ${item.fileName} is already in the inbox; it was not overwritten.`,
      {
        hint: "Ask the agency to move that file away; the delivery is tried again on the next run.",
      },
    );
    ctx.progress.errors.push({ at: ctx.now().toISOString(), code: e.code, message: e.message, file: item.fileName });
    return;
  }
  await session.upload(item.open(), part, item.size);
  await session.rename(part, final);
  await record(ctx, item, false);
  ctx.emit({
    drop: drop.name,
    runId: ctx.runId,
    name: item.fileName,
    stage: "delivered",
    sha256: item.sha256,
    caseId: item.caseId,
  });
}

async function record(ctx: RunContext, item: Deliverable, alreadyThere: boolean): Promise<void> {
  const { drop } = ctx;
  await ctx.db.tx(async (uow) => {
    await uow.drops.markDelivered(
      drop.name,
      { caseId: item.caseId, kind: item.kind, remoteName: item.fileName, sha256: item.sha256, size: item.size },
      ctx.runId,
    );
    await ctx.audit(uow, {
      actor: `drop:${drop.name}`,
      role: "system",
      agency: drop.agency,
      action: item.kind === "payload" ? "drop.push.payload" : "drop.push.result",
      caseId: item.caseId,
      fileSha256: [item.sha256],
      source: drop.host,
      detail: {
        drop: drop.name,
        remoteName: item.fileName,
        size: item.size,
        runId: ctx.runId,
        ...(alreadyThere ? { alreadyPresent: true } : {}),
      },
    });
  });
  if (!alreadyThere) {
    ctx.progress.files += 1;
    ctx.progress.bytes += item.size;
  }
}

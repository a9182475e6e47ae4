import { once } from "node:events";
import type { Writable } from "node:stream";
import {
  AUDIT_EXPORT_FORMAT,
  type AuditExportEntry,
  type AuditExportHead,
  type AuditExportHeader,
} from "@sealpost/protocol/transparency";
import type { Db } from "../db/db.js";
import { ServerError } from "../errors.js";
import { type AuditKey, auditPublicKeyPem } from "./audit-key.js";
import { iterateAudit } from "./log.js";
import { consistencyProof, inclusionProof } from "./proofs.js";
import { treeHeadDto } from "./service.js";

const hex = (b: Buffer[]) => b.map((h) => h.toString("hex"));

/**
 * Writes the audit export (format AUDIT_EXPORT_FORMAT in @sealpost/protocol/transparency) to `out`: the header with
 * the audit key and the latest signed head, every entry of that head with its inclusion proof, then every earlier
 * signed head with its consistency proof to the latest. Entries appended while it runs are left for the next
 * export. NOT_FOUND without an audit key or a signed head. Reads page by page (constant memory); honours
 * back-pressure.
 */
export async function writeAuditExport(
  db: Db,
  key: AuditKey | undefined,
  out: Writable,
): Promise<{ entries: number; heads: number }> {
  if (!key) {
    throw new ServerError("NOT_FOUND", "This relay has no audit key, so its log has no signed heads to export.", {
      hint: "Create one with: sealpost-server audit key create --data DIR",
    });
  }
  const latest = await db.read((uow) => uow.audit.latestHead());
  if (!latest) throw new ServerError("NOT_FOUND", "The audit log has no signed tree head yet.");
  const size = latest.treeSize;
  const write = async (obj: unknown) => {
    if (!out.write(`${JSON.stringify(obj)}\n`)) await once(out, "drain");
  };
  const header: AuditExportHeader = {
    format: AUDIT_EXPORT_FORMAT,
    auditKey: { algorithm: "Ed25519", publicKeyPem: auditPublicKeyPem(key), fingerprint: key.fingerprint },
    treeHead: treeHeadDto(latest),
  };
  await write(header);
  let entries = 0;
  for await (const entry of iterateAudit(db)) {
    if (entry.seq > size) break;
    const inclusion = hex(await db.read((uow) => inclusionProof(uow.audit, entry.seq - 1, size)));
    const line: AuditExportEntry = { entry, inclusion };
    await write(line);
    entries++;
  }
  let heads = 0;
  let after = 0;
  for (;;) {
    const page = await db.read((uow) => uow.audit.headPage(after, 500));
    for (const h of page) {
      if (h.treeSize >= size) continue;
      const consistency = hex(await db.read((uow) => consistencyProof(uow.audit, h.treeSize, size)));
      const line: AuditExportHead = { head: treeHeadDto(h), consistency };
      await write(line);
      heads++;
    }
    if (page.length < 500) break;
    after = page.at(-1)!.treeSize;
  }
  return { entries, heads };
}

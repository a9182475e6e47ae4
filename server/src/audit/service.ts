import type {
  AuditKeyInfo,
  CaseAuditDto,
  ConsistencyProofDto,
  InclusionProofDto,
  TreeHeadDto,
} from "@sealpost/protocol";
import { visibleCase } from "../cases/rules.js";
import type { Actor } from "../context.js";
import type { Db } from "../db/db.js";
import type { UnitOfWork } from "../db/uow.js";
import { ServerError } from "../errors.js";
import { type AuditKey, auditPublicKeyPem } from "./audit-key.js";
import { consistencyProof, inclusionProof } from "./proofs.js";
import type { StoredTreeHead } from "./repository.js";

/** Most entries GET /v1/audit/cases/:id returns for one case. */
export const MAX_CASE_ENTRIES = 1000;

const hex = (b: Buffer[]) => b.map((h) => h.toString("hex"));

/** A stored head as the API shows it (without the key fingerprint). */
export function treeHeadDto(h: StoredTreeHead): TreeHeadDto {
  return { treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp, signature: h.signature };
}

/**
 * The transparency side of the audit log: the audit key, the latest signed head, and proofs. Proofs are given only
 * up to the latest signed head (BAD_REQUEST with details.treeSize beyond it), so every proof ends in a head the
 * relay signed.
 */
export class AuditService {
  constructor(
    private readonly db: Db,
    private readonly key: AuditKey | undefined,
  ) {}

  /** The public audit key; NOT_FOUND when the relay has none (a data folder older than audit keys). */
  auditKey(): AuditKeyInfo {
    if (!this.key) {
      throw new ServerError("NOT_FOUND", "This relay has no audit key.", {
        hint: "Its operator creates one with: sealpost-server audit key create --data DIR",
      });
    }
    return { algorithm: "Ed25519", publicKeyPem: auditPublicKeyPem(this.key), fingerprint: this.key.fingerprint };
  }

  /** The latest signed head, or undefined when none was signed yet. */
  latestHead(): Promise<StoredTreeHead | undefined> {
    return this.db.read((uow) => uow.audit.latestHead());
  }

  async head(): Promise<TreeHeadDto> {
    const h = await this.latestHead();
    if (!h) throw new ServerError("NOT_FOUND", "The audit log has no signed tree head yet.");
    return treeHeadDto(h);
  }

  async consistency(from: number, to: number): Promise<ConsistencyProofDto> {
    return this.db.read(async (uow) => {
      const size = await signedSize(uow);
      if (!(from <= to && to <= size)) {
        throw new ServerError(
          "BAD_REQUEST",
          `No consistency proof from ${from} to ${to} entries: the log's latest signed head has ${size}.`,
          { details: { treeSize: size, from, to } },
        );
      }
      return { from, to, proof: hex(await consistencyProof(uow.audit, from, to)) };
    });
  }

  async inclusion(seq: number, size: number): Promise<InclusionProofDto> {
    return this.db.read(async (uow) => {
      const signed = await signedSize(uow);
      if (!(seq <= size && size <= signed)) {
        throw new ServerError(
          "BAD_REQUEST",
          `No inclusion proof of entry ${seq} in ${size} entries: the log's latest signed head has ${signed}.`,
          { details: { treeSize: signed, seq, size } },
        );
      }
      const [leaf] = await uow.audit.nodes([{ level: 0, index: seq - 1 }]);
      return {
        seq,
        leafIndex: seq - 1,
        treeSize: size,
        leafHash: leaf!.toString("hex"),
        proof: hex(await inclusionProof(uow.audit, seq - 1, size)),
      };
    });
  }

  /** The case's entries within the head of `size` (default the latest) with their inclusion proofs. */
  async caseAudit(actor: Actor, caseId: string, size: number | undefined): Promise<CaseAuditDto> {
    return this.db.read(async (uow) => {
      visibleCase(actor, await uow.cases.get(caseId), caseId, "either");
      const latest = await uow.audit.latestHead();
      const n = size ?? latest?.treeSize ?? 0;
      const head = n > 0 && n <= (latest?.treeSize ?? 0) ? await uow.audit.headAt(n) : undefined;
      if (!head) {
        throw new ServerError("BAD_REQUEST", `The audit log has no signed tree head of ${n} entries.`, {
          details: { treeSize: latest?.treeSize ?? 0 },
        });
      }
      const entries = (await uow.audit.forCase(caseId, MAX_CASE_ENTRIES)).filter((e) => e.seq <= n);
      const out: CaseAuditDto["entries"] = [];
      for (const entry of entries) {
        const proof = hex(await inclusionProof(uow.audit, entry.seq - 1, n));
        out.push({ entry, proof });
      }
      return { caseId, treeHead: treeHeadDto(head), entries: out };
    });
  }
}

/** The size proofs may reach: the latest signed head's, or the tree's when the relay signs none. */
async function signedSize(uow: UnitOfWork): Promise<number> {
  const head = await uow.audit.latestHead();
  return head ? head.treeSize : uow.audit.treeSize();
}

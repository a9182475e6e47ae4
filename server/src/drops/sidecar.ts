import { DropError } from "./errors.js";
import type { DropCaseFields } from "./types.js";

/** Largest sidecar accepted (bytes). */
export const MAX_SIDECAR_BYTES = 64 * 1024;

/**
 * Reads a pulled file's sidecar NAME.p7m.json: the case fields of `sealpost send`, as a JSON object:
 *
 *   { "category": "WELFARE-TAX", "receivingAgency": "TAX-TPE", "records": 1200, "uploadNo": "1130001",
 *     "remark": "monthly batch", "senderEmail": "chen.meiling@sw.example.gov.tw" }
 *
 * Optional "receivers": a list of receiving staff e-mails (default: all active staff of the receiving agency).
 * Aliases accepted for scripts written against the CLI's option names: "to-agency" / "toAgency" for
 * receivingAgency, "recordCount" for records, "remarks" for remark, "sender" for senderEmail. `remark` defaults to "".
 * Throws DropError BAD_SIDECAR naming the first problem.
 */
export function parseSidecar(bytes: Buffer): DropCaseFields {
  const bad = (why: string) =>
    new DropError("BAD_SIDECAR", `The sidecar file is not usable: ${why}.`, {
      hint: "Write NAME.p7m.json as JSON with category, receivingAgency, records, uploadNo, remark and senderEmail.",
    });
  if (bytes.length > MAX_SIDECAR_BYTES) throw bad(`it is larger than ${MAX_SIDECAR_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8").replace(/^\uFEFF/, ""));
  } catch {
    throw bad("it is not valid JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("it is not a JSON object");
  const o = raw as Record<string, unknown>;
  const pick = (...keys: string[]) => keys.map((k) => o[k]).find((v) => v !== undefined);
  const text = (v: unknown, field: string, required: boolean): string => {
    if (v === undefined && !required) return "";
    if (typeof v !== "string" || (required && v.trim() === "")) throw bad(`"${field}" must be a non-empty string`);
    if (v.length > 2000) throw bad(`"${field}" is too long`);
    return v.trim();
  };
  const category = text(pick("category"), "category", true);
  const receivingAgency = text(pick("receivingAgency", "toAgency", "to-agency"), "receivingAgency", true);
  const uploadNo = text(pick("uploadNo", "upload-no"), "uploadNo", true);
  const remark = text(pick("remark", "remarks"), "remark", false);
  const senderEmail = text(pick("senderEmail", "sender"), "senderEmail", true);
  if (!/^[^\s@]+@[^\s@]+$/.test(senderEmail)) throw bad('"senderEmail" is not an e-mail address');
  const records = pick("records", "recordCount");
  if (typeof records !== "number" || !Number.isSafeInteger(records) || records < 0) {
    throw bad('"records" must be a whole number of records, 0 or more');
  }
  const receivers = pick("receivers", "to");
  if (receivers !== undefined) {
    if (
      !Array.isArray(receivers) ||
      receivers.length === 0 ||
      receivers.some((r) => typeof r !== "string" || !/^[^\s@]+@[^\s@]+$/.test(r))
    ) {
      throw bad('"receivers" must be a non-empty list of e-mail addresses');
    }
    return { category, receivingAgency, records, uploadNo, remark, senderEmail, receivers: receivers as string[] };
  }
  return { category, receivingAgency, records, uploadNo, remark, senderEmail };
}

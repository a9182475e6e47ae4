import type { CaseDto, FileUploaderDto } from "@sealpost/protocol";
import type { CaseRow } from "./repository.js";

function uploaderOf(json: string | null | undefined): { uploadedBy?: FileUploaderDto } {
  return json ? { uploadedBy: JSON.parse(json) as FileUploaderDto } : {};
}

export function caseDto(r: CaseRow): CaseDto {
  return {
    id: r.id,
    state: r.state,
    category: r.category,
    senderAgency: r.sender_agency,
    senderStaff: r.sender_staff,
    receivingAgency: r.receiving_agency,
    recordCount: r.record_count,
    uploadNo: r.upload_no,
    remarks: r.remarks,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.payload_sha256
      ? {
          payload: {
            sha256: r.payload_sha256,
            size: r.payload_size ?? 0,
            uploadedAt: r.payload_at ?? "",
            ...uploaderOf(r.payload_uploaded_by),
          },
        }
      : {}),
    ...(r.result_sha256
      ? {
          result: {
            sha256: r.result_sha256,
            size: r.result_size ?? 0,
            uploadedAt: r.result_at ?? "",
            ...uploaderOf(r.result_uploaded_by),
          },
        }
      : {}),
  };
}

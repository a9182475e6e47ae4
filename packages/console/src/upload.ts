import type { CaseDto } from "@sealpost/protocol";
import { CSRF_HEADER } from "@sealpost/protocol";

/** A refusal of an upload as the server worded it (the console's message line reads code and message). */
export interface UploadRefusal {
  status: number;
  code: string;
  message: string;
}

/**
 * Uploads a sealed file as the case's payload or result (PUT /v1/cases/:id/payload|result) with the session cookie
 * and CSRF token, reporting the bytes sent through `onProgress` as they leave (fetch cannot report upload progress,
 * so this uses XMLHttpRequest; the browser streams the File from disk). Resolves with the case; rejects with an
 * UploadRefusal (the server's error code and message, or NETWORK when the connection failed).
 */
export function uploadSealed(
  kind: "payload" | "result",
  caseId: string,
  file: File,
  csrf: string | undefined,
  onProgress: (sent: number, total: number) => void,
): Promise<CaseDto> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/v1/cases/${encodeURIComponent(caseId)}/${kind}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    if (csrf) xhr.setRequestHeader(CSRF_HEADER, csrf);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject({ status: 0, code: "NETWORK", message: "The connection to the server failed." });
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) return resolve(body as CaseDto);
      const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      reject({
        status: xhr.status,
        code: err?.code ?? "BAD_RESPONSE",
        message: err?.message ?? `The server answered ${xhr.status}.`,
      } satisfies UploadRefusal);
    };
    xhr.send(file);
  });
}

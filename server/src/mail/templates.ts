/**
 * Notice texts, Traditional Chinese first, English second. They name the case and the agencies only: never file
 * content, file names chosen by staff, remarks or personal data, because mail travels and is stored unencrypted.
 */

/** A rendered notice, ready for enqueueMail. */
export interface RenderedMail {
  subject: string;
  text: string;
}

/** What a case notice may mention. Agency values are display names (or codes when no name is known). */
export interface CaseMailInfo {
  caseId: string;
  /** Category code or name, e.g. "戶籍資料比對". */
  category: string;
  senderAgency: string;
  receivingAgency: string;
  recordCount: number;
  uploadNo: string;
  /** Server address for staff, shown when set. */
  publicUrl?: string;
}

/** What a drop-failure notice mentions. */
export interface DropMailInfo {
  /** Drop name as configured. */
  name: string;
  /** Agency the drop belongs to, when known. */
  agency?: string;
  consecutiveFailures: number;
  /** Last error message (already free of secrets). */
  lastError: string;
  /** ISO time of the last successful run, or null/undefined if it never succeeded. */
  lastSuccessAt?: string | null;
}

const FOOTER_ZH = "此為 sealpost 系統自動發送的通知,請勿直接回覆。";
const FOOTER_EN = "This is an automatic notice from sealpost; please do not reply.";

/** One line, no control characters (a value can never add a header or fake a line of the notice). */
function clean(value: string | number): string {
  return String(value)
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ")
    .trim()
    .slice(0, 200);
}

function lines(...parts: (string | false | undefined)[]): string {
  return `${parts.filter((p) => p !== false && p !== undefined).join("\n")}\n`;
}

/**
 * To the receiving agency's staff: a new case is waiting for them. States case id, category, sender agency,
 * record count and upload number.
 */
export function renderNewCaseMail(info: CaseMailInfo): RenderedMail {
  const id = clean(info.caseId);
  const sender = clean(info.senderAgency);
  const url = info.publicUrl ? clean(info.publicUrl) : undefined;
  return {
    subject: `[sealpost] 新案件 ${id}:${sender} 傳送資料給貴機關 / New case ${id} from ${sender}`,
    text: lines(
      `${clean(info.receivingAgency)} 承辦人員您好:`,
      "",
      `${sender} 已透過 sealpost 傳送加密資料給貴機關,請登入下載並處理。`,
      "",
      `  案件編號:${id}`,
      `  類別:${clean(info.category)}`,
      `  傳送機關:${sender}`,
      `  資料筆數:${clean(info.recordCount)}`,
      `  上傳序號:${clean(info.uploadNo)}`,
      url && `  伺服器:${url}`,
      "",
      "資料已加密,僅貴機關登記的承辦人員能以自己的憑證解密;本通知不含資料內容。",
      FOOTER_ZH,
      "",
      "----",
      "",
      `To the staff of ${clean(info.receivingAgency)}:`,
      "",
      `${sender} has sent your agency encrypted data through sealpost. Please log in, download and process it.`,
      "",
      `  Case:         ${id}`,
      `  Category:     ${clean(info.category)}`,
      `  From:         ${sender}`,
      `  Records:      ${clean(info.recordCount)}`,
      `  Upload no.:   ${clean(info.uploadNo)}`,
      url && `  Server:       ${url}`,
      "",
      "The data is encrypted to your agency's registered staff certificates; this notice does not contain it.",
      FOOTER_EN,
    ),
  };
}

/**
 * To the sending agency's staff: the receiving agency has processed the case and its result file is ready.
 */
export function renderProcessedMail(info: CaseMailInfo): RenderedMail {
  const id = clean(info.caseId);
  const receiver = clean(info.receivingAgency);
  const url = info.publicUrl ? clean(info.publicUrl) : undefined;
  return {
    subject: `[sealpost] 案件 ${id} 已處理完成,結果檔可下載 / Case ${id} processed: result ready`,
    text: lines(
      `${clean(info.senderAgency)} 承辦人員您好:`,
      "",
      `${receiver} 已處理完成貴機關傳送的案件,結果檔已上傳,請登入下載。`,
      "",
      `  案件編號:${id}`,
      `  類別:${clean(info.category)}`,
      `  收件機關:${receiver}`,
      `  資料筆數:${clean(info.recordCount)}`,
      `  上傳序號:${clean(info.uploadNo)}`,
      url && `  伺服器:${url}`,
      "",
      "結果檔已加密,本通知不含資料內容。",
      FOOTER_ZH,
      "",
      "----",
      "",
      `To the staff of ${clean(info.senderAgency)}:`,
      "",
      `${receiver} has processed your case and uploaded the result file. Please log in and download it.`,
      "",
      `  Case:         ${id}`,
      `  Category:     ${clean(info.category)}`,
      `  Processed by: ${receiver}`,
      `  Records:      ${clean(info.recordCount)}`,
      `  Upload no.:   ${clean(info.uploadNo)}`,
      url && `  Server:       ${url}`,
      "",
      "The result is encrypted; this notice does not contain it.",
      FOOTER_EN,
    ),
  };
}

/**
 * To operations staff: an SFTP drop keeps failing. Names the drop, how many runs failed in a row, the last
 * error and the last success.
 */
export function renderDropFailingMail(drop: DropMailInfo): RenderedMail {
  const name = clean(drop.name);
  const agency = drop.agency ? clean(drop.agency) : undefined;
  const last = drop.lastSuccessAt ? clean(drop.lastSuccessAt) : undefined;
  const n = clean(drop.consecutiveFailures);
  return {
    subject: `[sealpost] SFTP 交換點 ${name} 連續 ${n} 次失敗 / SFTP drop ${name} failing (${n} runs)`,
    text: lines(
      "維運人員您好:",
      "",
      `SFTP 交換點「${name}」${agency ? `(${agency})` : ""}已連續 ${n} 次執行失敗,檔案可能未被收送。`,
      "",
      `  最近錯誤:${clean(drop.lastError)}`,
      `  最近成功:${last ?? "從未成功"}`,
      "",
      "請檢查對方 SFTP 主機、帳號金鑰與網路連線,再以 sealpost drop 指令查看狀態。",
      FOOTER_ZH,
      "",
      "----",
      "",
      "To operations staff:",
      "",
      `The SFTP drop "${name}"${agency ? ` (${agency})` : ""} has failed ${n} runs in a row; files may not be moving.`,
      "",
      `  Last error:   ${clean(drop.lastError)}`,
      `  Last success: ${last ?? "never"}`,
      "",
      "Check the remote SFTP host, the account key and the network, then check the drop with `sealpost drop`.",
      FOOTER_EN,
    ),
  };
}

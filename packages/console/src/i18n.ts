import { CASE_STATES, type CaseState } from "@sealpost/protocol";

/** The console's languages: Traditional Chinese first, English switchable (kept in localStorage). */
export type Lang = "zh-TW" | "en";

const en = {
  title: "sealpost console",
  skip: "Skip to content",
  language: "中文",
  languageLabel: "切換為中文 (Switch to Chinese)",
  loginHeading: "Log in",
  loginIntro: "Your key never enters the browser. Approve this code on your computer with the sealpost CLI:",
  loginCode: "One-time code",
  loginCommand: "Command to run",
  loginWaiting: "Waiting for approval…",
  loginExpired: "The code expired.",
  newCode: "New code",
  copy: "Copy",
  copied: "Copied",
  logout: "Log out",
  loggedInAs: "Logged in as",
  nav: "Main",
  inbox: "Inbox",
  outbox: "Outbox",
  allCases: "All cases",
  stateFilter: "State",
  anyState: "Any state",
  search: "Search by case id or upload number",
  searchButton: "Search",
  caseId: "Case",
  category: "Category",
  sender: "Sender",
  receiver: "Receiving agency",
  records: "Records",
  uploadNo: "Upload no.",
  state: "State",
  updated: "Updated",
  nextPage: "Next page",
  firstPage: "First page",
  noCases: "No cases.",
  loading: "Loading…",
  casesHeading: "Cases",
  error: "Error",
  sessionEnded: "Your session ended. Log in again.",
  newCase: "Register a case",
  receivers: "Receiving staff (e-mails, comma-separated; empty: everyone of the agency)",
  remarks: "Remarks",
  attachment: "Attachment (the file to seal, stays on this computer)",
  register: "Register",
  registered: "Case registered.",
  settingsFile: "Download transfer settings file",
  sealCommand: "Seal and send with the local kit",
  recipients: "Recipients",
  recipientName: "Name (from certificate)",
  certificate: "Certificate SHA-256",
  email: "E-mail",
  agency: "Agency",
  files: "Files",
  payload: "Sealed payload",
  result: "Sealed result",
  size: "Size (bytes)",
  sha256: "SHA-256",
  uploadedAt: "Uploaded",
  timeline: "Timeline",
  receipts: "Receipts",
  receiptOk: "hash matches the file; signature checked by the server when it was filed",
  receiptBad: "hash does NOT match the file",
  notes: "Notes",
  noNotes: "No notes.",
  uploadSealed: "Upload an already sealed file",
  uploadChoose: "Sealed file (.p7m) — choose or drop here",
  uploadButton: "Upload",
  uploading: "Uploading…",
  uploaded: "Uploaded.",
  download: "Download",
  cancel: "Withdraw the case",
  cancelReason: "Reason for withdrawal",
  cancelled: "The case was withdrawn.",
  openCommand: "Open the downloaded file with the local kit",
  receiveCommand: "Receive and open with the local kit (signs the receipt)",
  replyCommand: "Seal and upload the result with the local kit",
  resultCommand: "Fetch and open the result with the local kit (signs the receipt)",
  downloadedPayload:
    "Downloaded. The case becomes received once you open it with the local kit and sign the receipt (command below).",
  downloadedResult:
    "Downloaded. The case becomes result received once you open it with the local kit and sign the receipt (command below).",
  noteAdd: "Add a note (處理情形)",
  noteButton: "Add note",
  back: "Back to the list",
  recipientsMismatch:
    "The server refused the file: it is not sealed to exactly this case's recipients. Seal it again with the transfer settings file of this case.",
  notCms: "The server refused the file: it is not a sealed (CMS) file.",
} as const;

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  title: "sealpost 主控台",
  skip: "跳至主要內容",
  language: "English",
  languageLabel: "Switch to English (切換為英文)",
  loginHeading: "登入",
  loginIntro: "金鑰不會進入瀏覽器。請在您的電腦上以 sealpost 命令列工具核准此代碼：",
  loginCode: "一次性代碼",
  loginCommand: "要執行的指令",
  loginWaiting: "等待核准中…",
  loginExpired: "代碼已逾時。",
  newCode: "取得新代碼",
  copy: "複製",
  copied: "已複製",
  logout: "登出",
  loggedInAs: "登入身分",
  nav: "主選單",
  inbox: "收件匣",
  outbox: "寄件匣",
  allCases: "全部案件",
  stateFilter: "狀態",
  anyState: "所有狀態",
  search: "以案件編號或上傳編號搜尋",
  searchButton: "搜尋",
  caseId: "案件",
  category: "作業來源",
  sender: "傳送端",
  receiver: "接收機關",
  records: "筆數",
  uploadNo: "上傳編號",
  state: "狀態",
  updated: "更新時間",
  nextPage: "下一頁",
  firstPage: "第一頁",
  noCases: "沒有案件。",
  loading: "載入中…",
  casesHeading: "案件",
  error: "錯誤",
  sessionEnded: "工作階段已結束，請重新登入。",
  newCase: "登錄案件",
  receivers: "接收端人員（電子郵件，以逗號分隔；空白：該機關所有人員）",
  remarks: "備註",
  attachment: "附加檔案（要加密的檔案，留在本機）",
  register: "登錄",
  registered: "案件已登錄。",
  settingsFile: "下載傳遞設定檔",
  sealCommand: "以本機工具加密並傳送",
  recipients: "接收者",
  recipientName: "姓名（取自憑證）",
  certificate: "憑證 SHA-256",
  email: "電子郵件",
  agency: "機關",
  files: "檔案",
  payload: "加密資料檔",
  result: "加密結果檔",
  size: "大小（位元組）",
  sha256: "SHA-256",
  uploadedAt: "上傳時間",
  timeline: "歷程",
  receipts: "收執",
  receiptOk: "雜湊與檔案相符；簽章已由伺服器於收件時驗證",
  receiptBad: "雜湊與檔案不符",
  notes: "處理情形",
  noNotes: "尚無處理情形。",
  uploadSealed: "上傳已加密的檔案",
  uploadChoose: "已加密檔案（.p7m）— 選擇或拖放至此",
  uploadButton: "上傳",
  uploading: "上傳中…",
  uploaded: "已上傳。",
  download: "下載",
  cancel: "撤回案件",
  cancelReason: "撤回原因",
  cancelled: "案件已撤回。",
  openCommand: "以本機工具開啟下載的檔案",
  receiveCommand: "以本機工具收件並開啟（簽署收執）",
  replyCommand: "以本機工具加密並上傳結果檔",
  resultCommand: "以本機工具取回並開啟結果檔（簽署收執）",
  downloadedPayload: "已下載。以本機工具開啟並簽署收執後，案件即為已收件（指令如下）。",
  downloadedResult: "已下載。以本機工具開啟並簽署收執後，案件即為結果檔已接收（指令如下）。",
  noteAdd: "新增處理情形",
  noteButton: "新增",
  back: "回到清單",
  recipientsMismatch: "伺服器拒收：此檔案並非恰好加密給本案的接收者。請以本案的傳遞設定檔重新加密。",
  notCms: "伺服器拒收：此檔案不是加密（CMS）檔案。",
};

const STATES_EN: Record<CaseState, string> = {
  registered: "Registered",
  sent: "Sent",
  received: "Received",
  processed: "Processed",
  result_received: "Result received",
  cancelled: "Cancelled",
};

export const DICTIONARIES: Record<Lang, Record<Key, string>> = { "zh-TW": zh, en };

/** The language chosen before (localStorage), else Traditional Chinese. */
export function initialLang(): Lang {
  try {
    return localStorage.getItem("sealpost.lang") === "en" ? "en" : "zh-TW";
  } catch {
    return "zh-TW";
  }
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem("sealpost.lang", lang);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = lang === "en" ? "en" : "zh-Hant-TW";
}

export function stateName(lang: Lang, s: CaseState): string {
  return lang === "en" ? STATES_EN[s] : CASE_STATES[s];
}

export type T = (k: Key) => string;
export const translator =
  (lang: Lang): T =>
  (k) =>
    DICTIONARIES[lang][k];

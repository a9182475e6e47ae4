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

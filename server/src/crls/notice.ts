/** What a stale-CRL notice mentions. */
export interface CrlStaleInfo {
  /** Issuer's name for display. */
  issuer: string;
  /** Where the CRL comes from (a file path or a distribution point URL). */
  source: string;
  /** ISO time the CRL stops being current. */
  nextUpdate: string;
  /** Why the refresh did not replace it, when a try failed. */
  lastError: string | null;
}

function clean(value: string): string {
  return value
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ")
    .trim()
    .slice(0, 300);
}

/**
 * To operations staff: a CRL passes its nextUpdate soon (or did). While no newer CRL is found, certificates of
 * that CA are refused (revocation "require"): logins, uploads and profiles stop. Traditional Chinese first.
 */
export function renderCrlStaleMail(info: CrlStaleInfo): { subject: string; text: string } {
  const issuer = clean(info.issuer);
  const when = clean(info.nextUpdate);
  const err = info.lastError ? clean(info.lastError) : undefined;
  return {
    subject: `[sealpost] 憑證廢止清冊即將過期 / CRL of ${issuer} stale at ${when}`,
    text: [
      "維運人員您好:",
      "",
      `「${issuer}」的憑證廢止清冊(CRL)將於 ${when} 過期,目前尚未取得更新版本。`,
      "過期後該 CA 簽發的憑證將無法通過驗證(登入、上傳、收件皆會被拒)。",
      `  來源:${clean(info.source)}`,
      ...(err ? [`  最近錯誤:${err}`] : []),
      "",
      "請將新的 CRL 放入設定的 CRL 資料夾,或確認 CRL 發布點可連線。",
      "此為 sealpost 系統自動發送的通知,請勿直接回覆。",
      "",
      "----",
      "",
      "To operations staff:",
      "",
      `The CRL of ${issuer} stops being current at ${when} and no newer one has been found.`,
      "After that, certificates of this CA are refused (logins, uploads and receipts fail).",
      `  Source:     ${clean(info.source)}`,
      ...(err ? [`  Last error: ${err}`] : []),
      "",
      "Put the new CRL into the configured CRL folder, or check that its distribution point can be reached.",
      "This is an automatic notice from sealpost; please do not reply.",
      "",
    ].join("\n"),
  };
}

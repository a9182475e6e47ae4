import { describe, expect, it } from "vitest";
import { enqueueMail, getOutboxEntry } from "../src/mail/outbox.js";
import { DIALECTS, openTestDb } from "./helpers/postgres.js";
import {
  type CaseMailInfo,
  renderDropFailingMail,
  renderNewCaseMail,
  renderProcessedMail,
} from "../src/mail/templates.js";

const info: CaseMailInfo = {
  caseId: "C-20260302-0007",
  category: "戶籍資料比對",
  senderAgency: "測試縣政府",
  receivingAgency: "範例戶政事務所",
  recordCount: 1234,
  uploadNo: "U-0042",
  publicUrl: "https://sealpost.test.example",
};

describe("notice templates", () => {
  it.each([
    {
      name: "new case (to the receiving staff)",
      mail: renderNewCaseMail(info),
      subject: ["新案件", "C-20260302-0007", "測試縣政府", "New case"],
      text: [
        "範例戶政事務所 承辦人員您好",
        "案件編號:C-20260302-0007",
        "類別:戶籍資料比對",
        "傳送機關:測試縣政府",
        "資料筆數:1234",
        "上傳序號:U-0042",
        "伺服器:https://sealpost.test.example",
        "Records:      1234",
        "Upload no.:   U-0042",
        "To the staff of 範例戶政事務所",
      ],
    },
    {
      name: "case processed (to the sender)",
      mail: renderProcessedMail(info),
      subject: ["案件 C-20260302-0007 已處理完成", "Case C-20260302-0007 processed"],
      text: [
        "測試縣政府 承辦人員您好",
        "範例戶政事務所 已處理完成",
        "收件機關:範例戶政事務所",
        "Processed by: 範例戶政事務所",
        "To the staff of 測試縣政府",
      ],
    },
    {
      name: "drop failing (to operations)",
      mail: renderDropFailingMail({
        name: "county-outbox",
        agency: "測試縣政府",
        consecutiveFailures: 3,
        lastError: "connection refused",
        lastSuccessAt: null,
      }),
      subject: ["county-outbox", "連續 3 次失敗", "failing (3 runs)"],
      text: [
        "SFTP 交換點「county-outbox」(測試縣政府)",
        "最近錯誤:connection refused",
        "最近成功:從未成功",
        "Last success: never",
      ],
    },
  ])("$name: bilingual subject and text with the case facts", async ({ mail, subject, text }) => {
    for (const s of subject) expect(mail.subject).toContain(s);
    for (const t of text) expect(mail.text).toContain(t);
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.text.endsWith("\n")).toBe(true);
    // Usable as-is by the outbox.
    await enqueueMailDry(mail);
  });

  it("flattens line breaks and control characters in values, so no value can add a header or a fake line", () => {
    const mail = renderNewCaseMail({
      ...info,
      caseId: "C-1\r\nBcc: someone@evil.example",
      senderAgency: "測試\n縣政府\u0000",
    });
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toContain("C-1 Bcc: someone@evil.example");
    expect(mail.text).toContain("傳送機關:測試 縣政府\n");
    expect(mail.text).not.toMatch(/^Bcc:/m);
  });

  it("says when a drop last succeeded", () => {
    const mail = renderDropFailingMail({
      name: "hh-inbox",
      consecutiveFailures: 5,
      lastError: "host key mismatch",
      lastSuccessAt: "2026-03-01T02:00:00.000Z",
    });
    expect(mail.text).toContain("最近成功:2026-03-01T02:00:00.000Z");
    expect(mail.text).toContain("Last success: 2026-03-01T02:00:00.000Z");
    expect(mail.text).not.toContain("(");
  });
});

/** Queues the rendered notice in a real outbox (this run's database) and reads it back unchanged. */
async function enqueueMailDry(mail: { subject: string; text: string }): Promise<void> {
  for (const dialect of DIALECTS) {
    const t = await openTestDb(dialect);
    try {
      const id = await enqueueMail(t.db, { to: ["staff@agency.example"], ...mail, kind: "test" });
      expect(await getOutboxEntry(t.db, id)).toMatchObject({ subject: mail.subject, body: mail.text, state: "queued" });
    } finally {
      await t.close();
    }
  }
}

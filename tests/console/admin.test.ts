import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { issueTestCertificate } from "../helpers/issue-cert.js";
import { clientAs, M, pki, repoRoot, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";
import { axeScan, launchChromium, loginAs } from "./browser.js";

/**
 * The admin pages in Chromium, on a fresh relay whose only account is the first administrator (ops-wu): register
 * an agency with an IP allow-list, a staff member, the staff member's signing certificate (a DER .cer) and
 * encryption certificate (PEM), each shown (subject, validity, key usage, trust check) before it is registered;
 * an expired certificate is refused before registration; a certificate ending within 30 days is highlighted; a
 * transfer category is added. The registered staff member then logs in with the CLI. Every page passes the axe
 * scan and is written as a zh-TW screenshot under test-results/.
 */

let relay: TestRelay;
let browser: Browser;
let page: Page;
const SHOTS = join(repoRoot, "test-results");
const wang = M.people["tax-wang"];
const TAX = M.agencies["KHH-TAX"];

beforeAll(async () => {
  relay = await startRelay("sealpost-console-admin-", { adminName: true });
  browser = await launchChromium();
  ({ page } = await loginAs(browser, relay, "ops-wu"));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await relay?.close();
});

const shotAndScan = async (name: string) => {
  await page.screenshot({ path: join(SHOTS, `console-admin-${name}-zh-TW.png`), fullPage: true });
  expect(await axeScan(page)).toEqual([]);
};

test("an admin registers an agency with an IP allow-list", async () => {
  // The administrator's first page is the agencies page.
  await page.getByRole("heading", { level: 1, name: "機關" }).waitFor();
  await page.getByLabel("代碼").fill("KHH-TAX");
  await page.getByLabel("名稱").fill(TAX.name);
  await page.getByLabel("電子郵件").fill(TAX.email);
  await page.getByLabel("IP 允許清單（每行一個 CIDR 或位址；空白：不限）").fill("127.0.0.0/8\n::1/128");
  await page.getByRole("button", { name: "登錄機關" }).click();
  await page.getByText("已登錄機關：KHH-TAX").waitFor();
  await page.getByTestId("agency-KHH-TAX").getByText(TAX.name).waitFor();
  const admin = await clientAs(relay.server.url, "ops-wu");
  const tax = (await admin.call("listAgencies")).find((a) => a.code === "KHH-TAX");
  expect(tax).toMatchObject({ name: TAX.name, email: TAX.email, allowCidrs: ["127.0.0.0/8", "::1/128"], active: true });
  await shotAndScan("agencies");
});

test("an admin registers a staff member", async () => {
  await page.getByRole("link", { name: "人員" }).click();
  await page.getByRole("heading", { level: 1, name: "人員" }).waitFor();
  await page.getByLabel("機關", { exact: true }).last().selectOption("KHH-TAX");
  await page.getByLabel("名稱").fill(wang.name);
  await page.getByLabel("電子郵件").fill(wang.email);
  await page.getByLabel("角色").selectOption("staff");
  await page.getByRole("button", { name: "登錄人員" }).click();
  await page.getByText(`已登錄人員：${wang.name} <${wang.email}>`).waitFor();
  await page.getByRole("cell", { name: wang.email, exact: true }).waitFor();
  await shotAndScan("staff");
});

test("an admin sees each certificate and its trust check before registering it; a near expiry is highlighted", async () => {
  await page.getByRole("link", { name: "憑證" }).click();
  await page.getByRole("heading", { level: 1, name: "憑證" }).waitFor();
  await page.getByLabel("人員", { exact: true }).selectOption({ label: `${wang.name} <${wang.email}> (KHH-TAX)` });
  const file = page.getByLabel("憑證檔（.cer 或 .pem；登錄前先檢查）");
  const register = page.getByRole("button", { name: "登錄憑證" });
  const check = page.getByTestId("cert-check");

  // The signing certificate as a DER .cer (as Windows exports it).
  const cer = join(relay.work, "wang-sign.cer");
  execFileSync("openssl", ["x509", "-in", pki(wang.sign.cert), "-outform", "DER", "-out", cer]);
  await file.setInputFiles(cer);
  await check.getByText(`CN=${wang.name}`).waitFor();
  await check.getByText("digitalSignature").waitFor();
  await page.getByTestId("cert-trust").getByText("通過").waitFor();
  expect(
    await check
      .locator("dt", { hasText: /^用途$/ })
      .locator("+ dd")
      .textContent(),
  ).toBe("簽章");
  await register.click();
  await page.getByText(`已登錄憑證：${wang.name} (簽章)`).waitFor();

  // The encryption certificate as PEM.
  await file.setInputFiles(pki(wang.encrypt.cert));
  await check.getByText("keyEncipherment").waitFor();
  await page.getByTestId("cert-trust").getByText("通過").waitFor();
  await register.click();
  await page.getByText(`已登錄憑證：${wang.name} (加密)`).waitFor();

  // An expired certificate: shown with the reason, and it cannot be registered.
  const expired = (M as { troubled: Record<string, { cert: string }> }).troubled.expired!.cert;
  await file.setInputFiles(pki(expired));
  await page
    .getByTestId("cert-trust")
    .getByText(/未通過: EXPIRED/)
    .waitFor();
  expect(await register.isDisabled()).toBe(true);

  // A signing certificate that ends in 10 days: registered, and highlighted in the list.
  const now = Date.now();
  const soon = issueTestCertificate({
    dir: relay.work,
    name: "wang-soon",
    subject: `/C=TW/O=${TAX.name}/OU=KHH-TAX/CN=${wang.name}`,
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 10 * 86_400_000),
  });
  await file.setInputFiles(soon.cert);
  await check.getByText("30 天內到期").waitFor();
  await page.getByTestId("cert-trust").getByText("通過").waitFor();
  await register.click();
  await page.getByText(`已登錄憑證：${wang.name} (簽章)`).waitFor();
  const rows = page.locator("tr.expiring");
  await rows.getByText("30 天內到期").waitFor();
  expect(await rows.count()).toBe(1);
  expect(await page.locator("tbody tr").count()).toBe(4); // ops-wu's (init), wang's sign, encrypt and the near one

  // The staff member registered in the browser logs in with the CLI (the admin set the allow-list to loopback).
  const r = await sealpostAs(relay, "tax-wang", ["login"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(wang.name);
  await shotAndScan("certificates");
});

test("an admin adds a transfer category", async () => {
  await page.getByRole("link", { name: "作業來源" }).click();
  await page.getByRole("heading", { level: 1, name: "作業來源" }).waitFor();
  await page.getByLabel("代碼").fill("WELFARE-TAX");
  await page.getByLabel("名稱").fill("社會救助資格財稅查調");
  await page.getByLabel("法定目的").fill("社會救助法第 44 條之 3（測試用虛構說明）");
  await page.getByRole("button", { name: "新增作業來源" }).click();
  await page.getByRole("cell", { name: "WELFARE-TAX", exact: true }).waitFor();
  const admin = await clientAs(relay.server.url, "ops-wu");
  expect((await admin.call("listCategories")).map((c) => c.code)).toEqual(["WELFARE-TAX"]);
  await shotAndScan("categories");
});

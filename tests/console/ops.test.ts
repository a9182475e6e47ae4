import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type SshdHandle, startSshd } from "../../server/test/helpers/sshd.js";
import { clientAs, M, pki, registerFixtureRegistry, repoRoot, startRelay, type TestRelay } from "../helpers/relay.js";
import { axeScan, launchChromium, loginAs } from "./browser.js";

/**
 * The ops drops page in Chromium against a relay and a real sshd: an ops staff member adds an SFTP drop in the form
 * (the SFTP key read from a file), runs it now and watches it fail (the remote folder is missing: the history names
 * the error), runs it again once the folder exists and watches it succeed; pauses and resumes its schedule. axe
 * scan and a zh-TW screenshot of the page with the history.
 */

let relay: TestRelay;
let browser: Browser;
let sshd: SshdHandle;
let page: Page;

beforeAll(async () => {
  sshd = await startSshd();
  relay = await startRelay("sealpost-console-ops-", { adminName: true });
  await registerFixtureRegistry(relay.server.url);
  const admin = await clientAs(relay.server.url, "ops-wu");
  const liu = M.people["ops-liu"];
  await admin.addStaff({ body: { agency: liu.agency, name: liu.name, email: liu.email, role: "ops" } });
  await admin.addCertificate({ body: { staff: liu.email, pem: readFileSync(pki(liu.sign.cert), "utf8") } });
  browser = await launchChromium();
  ({ page } = await loginAs(browser, relay, "ops-liu"));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await sshd?.close();
});

test("ops add a drop, run it now, watch it fail and then succeed in its history; pause and resume", async () => {
  // The ops role's first page is the drops page.
  await page.getByRole("heading", { level: 1, name: "SFTP 排程傳輸" }).waitFor();
  await page.getByText("沒有排程傳輸。").waitFor();
  const keyFile = join(relay.work, "drop.key");
  writeFileSync(keyFile, sshd.clientPrivateKey, { mode: 0o600 });
  const remote = join(sshd.remoteDir, "console-out");
  await page.getByLabel("名稱").fill("khh-soc-out");
  await page.getByLabel("機關").fill("KHH-SOC");
  await page.getByLabel("方向").selectOption("pull");
  await page.getByLabel("主機", { exact: true }).fill(sshd.host);
  await page.getByLabel("連接埠").fill(String(sshd.port));
  await page.getByLabel("SFTP 帳號").fill(sshd.username);
  await page.getByLabel(/SFTP 私鑰檔/).setInputFiles(keyFile);
  await page.getByLabel("遠端資料夾（絕對路徑）").fill(remote);
  await page.getByLabel(/主機金鑰指紋/).fill(sshd.hostKeyFingerprint);
  await page.getByLabel("排程（cron）").fill("0 3 * * *");
  await page.getByLabel("每次執行嘗試次數").fill("1");
  await page.getByRole("button", { name: "新增排程傳輸" }).click();
  await page.getByText("已新增排程傳輸：khh-soc-out").waitFor();
  const row = page.getByTestId("drop-khh-soc-out");
  await row.getByText("正常").waitFor();
  // The key went to the server once and is never shown.
  expect(await page.content()).not.toContain("PRIVATE KEY");

  // Run now: the remote folder does not exist yet, so the run fails and the history says why.
  await page.getByRole("button", { name: "立即執行 khh-soc-out" }).click();
  const history = page.getByTestId("drop-history");
  await history.locator("tbody tr").first().getByText("失敗").waitFor({ timeout: 60_000 });
  await history.getByText(/SFTP_/).first().waitFor();
  await row.getByText("異常").waitFor();

  // Once the folder exists, a second run succeeds; both runs are listed, newest first.
  mkdirSync(remote);
  await page.getByRole("button", { name: "立即執行 khh-soc-out" }).click();
  await history.locator("tbody tr").first().getByText("成功").waitFor({ timeout: 60_000 });
  const outcomes = await history.locator("tbody tr td:nth-child(5)").allTextContents();
  expect(outcomes).toEqual(["成功", "失敗"]);
  await row.getByText("正常").waitFor();
  const ops = await clientAs(relay.server.url, "ops-liu");
  const runs = await ops.call("dropHistory", { params: { name: "khh-soc-out" }, query: { limit: 10 } });
  expect(runs.map((r) => [r.status, r.trigger])).toEqual([
    ["ok", "manual"],
    ["failed", "manual"],
  ]);

  await page.screenshot({ path: join(repoRoot, "test-results", "console-ops-drops-zh-TW.png"), fullPage: true });
  expect(await axeScan(page)).toEqual([]);

  // Pause and resume the schedule.
  await page.getByRole("button", { name: "暫停 khh-soc-out" }).click();
  await row.getByText("已暫停").waitFor();
  expect((await ops.call("getDrop", { params: { name: "khh-soc-out" } })).enabled).toBe(false);
  await page.getByRole("button", { name: "恢復 khh-soc-out" }).click();
  await page.getByRole("button", { name: "暫停 khh-soc-out" }).waitFor();
  expect((await ops.call("getDrop", { params: { name: "khh-soc-out" } })).enabled).toBe(true);
});

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { M, pki, registerFixtureRegistry, repoRoot, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";
import { axeScan, launchChromium, loginAs } from "./browser.js";

/**
 * The seed's round trip with the browser for the case work and the real CLI for sealing and opening: the sender
 * registers a case in the form and downloads its transfer settings file; a file sealed to the wrong recipients is
 * refused with the reason in words; a file sealed (CLI) to the settings file's certificates is uploaded in the
 * browser (已傳送); the receiver's CLI receives it and signs a receipt (已收件), the receiver adds a note in the browser
 * and replies with the CLI (處理完成); the sender downloads the result in the browser (the case does not move), runs
 * the command the page shows (`sealpost result`, which opens the result and posts the signed receipt), and the open
 * page turns to 結果檔已接收 by itself, with the timeline, sizes, SHA-256 and receipts. A second case is withdrawn in the browser (已撤回).
 */

let relay: TestRelay;
let browser: Browser;

beforeAll(async () => {
  relay = await startRelay("sealpost-console-cases-", { adminName: true });
  await registerFixtureRegistry(relay.server.url);
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await relay?.close();
});

const cli = async (id: string, args: string[]) => {
  const r = await sealpostAs(relay, id, args);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
};

async function registerInForm(page: Page, uploadNo: string): Promise<string> {
  await page.getByRole("link", { name: "登錄案件" }).click();
  await page.getByLabel("作業來源").selectOption("C");
  await page.getByLabel("接收機關").selectOption("KHH-TAX");
  await page.getByLabel("筆數").fill("3");
  await page.getByLabel("上傳編號").fill(uploadNo);
  await page.getByLabel("備註").fill("測試資料（虛構）");
  await page.getByRole("button", { name: "登錄", exact: true }).click();
  return (await page.getByTestId("new-case-id").textContent())!.trim();
}

const state = (page: Page) => page.getByTestId("case-state");

test("round trip: register, settings file, refused and accepted uploads, receive, note, result, result received", async () => {
  const { page: sender } = await loginAs(browser, relay, "soc-chen");
  const id = await registerInForm(sender, "E2E-1");
  expect(id).toMatch(/^C\d{8}-/);
  await expect
    .poll(() => sender.getByRole("textbox", { name: "以本機工具加密並傳送" }).inputValue())
    .toBe(`sealpost send FILE --case ${id}`);
  const dl = sender.waitForEvent("download");
  await sender.getByRole("button", { name: "下載傳遞設定檔" }).click();
  const settingsPath = join(relay.work, `${id}.settings.json`);
  await (await dl).saveAs(settingsPath);
  const settings = JSON.parse(readFileSync(settingsPath, "utf8"));
  expect(settings.case.id).toBe(id);
  const emails = settings.recipients.map((r: { email: string }) => r.email).sort();
  expect(emails).toEqual([M.people["soc-chen"].email, M.people["tax-wang"].email].sort());

  // Seal with the CLI: once to the receiver only (wrong), once with the settings file (`seal --profile`).
  const plain = join(relay.work, "batch.csv");
  writeFileSync(plain, "id,name\n1,王小明\n2,林美玲\n3,張志強\n");
  const wrong = join(relay.work, "wrong.p7m");
  await cli("soc-chen", ["seal", plain, "--to", pki(M.people["tax-wang"].encrypt.cert), "-o", wrong]);
  const sealed = join(relay.work, "batch.p7m");
  // The command the page shows for sealing with the settings file it just downloaded.
  const sealCmd = await sender.getByRole("textbox", { name: "或以傳遞設定檔加密，再於此頁上傳加密檔" }).inputValue();
  expect(sealCmd).toBe(`sealpost seal FILE --profile ${id}.settings.json -o FILE.p7m`);
  await cli("soc-chen", ["seal", plain, "--profile", settingsPath, "-o", sealed]);

  await sender.getByRole("link", { name: id }).click();
  await state(sender).filter({ hasText: "已登錄" }).waitFor();
  const fileInput = sender.getByLabel(/已加密檔案/);
  await fileInput.setInputFiles(wrong);
  await sender.getByRole("button", { name: "上傳", exact: true }).click();
  await sender.getByText("伺服器拒收：此檔案並非恰好加密給本案的接收者").waitFor();
  await state(sender).filter({ hasText: "已登錄" }).waitFor();
  await fileInput.setInputFiles(sealed);
  await sender.getByRole("button", { name: "上傳", exact: true }).click();
  await state(sender).filter({ hasText: "已傳送" }).waitFor();
  // The progress bar followed the bytes as they left, up to the whole file.
  const size = statSync(sealed).size;
  const bar = sender.getByTestId("upload-progress");
  expect(await bar.evaluate((e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max])).toEqual([
    size,
    size,
  ]);
  await sender.getByText(`${size.toLocaleString("zh-TW")} / ${size.toLocaleString("zh-TW")} 位元組 (100%)`).waitFor();
  const sha = (await sender.getByTestId("payload-sha256").textContent())!.trim();
  const { createHash } = await import("node:crypto");
  expect(sha).toBe(createHash("sha256").update(readFileSync(sealed)).digest("hex"));

  // The receiver: CLI receives and opens (signs a receipt); the browser shows it, takes a note.
  await cli("tax-wang", ["login"]);
  await cli("tax-wang", ["receive", id, "-o", join(relay.work, "in")]);
  const { page: receiver } = await loginAs(browser, relay, "tax-wang");
  await receiver.goto(`${relay.server.url}/#/case/${id}`);
  await state(receiver).filter({ hasText: "已收件" }).waitFor();
  await receiver.getByText("雜湊與檔案相符").waitFor();
  await receiver.getByLabel("新增處理情形").fill("已比對 3 筆（測試）");
  await receiver.getByRole("button", { name: "新增", exact: true }).click();
  await receiver
    .getByText(/已比對 3 筆（測試）/)
    .first()
    .waitFor();
  await receiver.screenshot({
    path: join(repoRoot, "test-results", "console-case-received-zh-TW.png"),
    fullPage: true,
  });
  writeFileSync(join(relay.work, "result.csv"), "id,match\n1,yes\n");
  await cli("tax-wang", ["reply", id, join(relay.work, "result.csv")]);

  // The sender downloads the result in the browser.
  await sender.reload();
  await state(sender).filter({ hasText: "處理完成" }).waitFor();
  const res = sender.waitForEvent("download");
  await sender.getByRole("button", { name: "下載 加密結果檔" }).click();
  const resPath = join(relay.work, "result.p7m");
  await (await res).saveAs(resPath);
  expect((await sender.getByTestId("result-sha256").textContent())!.trim()).toBe(
    createHash("sha256").update(readFileSync(resPath)).digest("hex"),
  );
  // A download alone moves nothing: the page says the signed receipt does, and shows the command that signs it.
  await sender.getByText("以本機工具開啟並簽署收執後，案件即為結果檔已接收").waitFor();
  await state(sender).filter({ hasText: "處理完成" }).waitFor();
  const resultCmd = await sender.getByRole("textbox", { name: "以本機工具取回並開啟結果檔（簽署收執）" }).inputValue();
  expect(resultCmd).toBe(`sealpost result ${id} -o FOLDER`);
  // The sender runs it (the CLI downloads, opens, verifies and posts the signed receipt); the open page follows.
  const resultArgs = resultCmd.replace("FOLDER", join(relay.work, "result-out")).split(" ").slice(1);
  const fetched = await cli("soc-chen", resultArgs);
  expect(fetched.stdout).toContain("signed and sent");
  await state(sender).filter({ hasText: "結果檔已接收" }).waitFor();
  await sender
    .locator("#receipts-heading + ul li")
    .filter({ hasText: M.people["soc-chen"].name })
    .filter({ hasText: "雜湊與檔案相符" })
    .waitFor();
  const timeline = await sender.locator(".timeline li").allTextContents();
  for (const s of ["已登錄", "已傳送", "已收件", "處理完成", "結果檔已接收"]) expect(timeline.join("\n")).toContain(s);
  // Who did it is named, not given by an internal id: the sender registered and sent, the receiver processed.
  expect(timeline.find((l) => l.includes("已登錄"))).toContain(M.people["soc-chen"].name);
  expect(timeline.find((l) => l.includes("已傳送"))).toContain(M.people["soc-chen"].name);
  expect(timeline.find((l) => l.includes("處理完成"))).toContain(M.people["tax-wang"].name);
  await sender.screenshot({ path: join(repoRoot, "test-results", "console-case-zh-TW.png"), fullPage: true });
  expect(await axeScan(sender)).toEqual([]);
  // The CLI opens what the browser downloaded.
  await cli("soc-chen", ["open", resPath, "-o", join(relay.work, "result-opened.csv")]);
  expect(readFileSync(join(relay.work, "result-opened.csv"), "utf8")).toBe("id,match\n1,yes\n");
});

test("withdraw a registered case in the browser", async () => {
  const { page } = await loginAs(browser, relay, "soc-chen");
  const id = await registerInForm(page, "E2E-2");
  await page.screenshot({ path: join(repoRoot, "test-results", "console-new-case-zh-TW.png"), fullPage: true });
  expect(await axeScan(page)).toEqual([]);
  await page.getByRole("link", { name: id }).click();
  await state(page).filter({ hasText: "已登錄" }).waitFor();
  expect(await axeScan(page)).toEqual([]);
  await page.getByLabel("撤回原因").fill("登錄錯誤（測試）");
  await page.getByRole("button", { name: "撤回案件" }).click();
  await state(page).filter({ hasText: "已撤回" }).waitFor();
});

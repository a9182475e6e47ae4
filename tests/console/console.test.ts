import { mkdirSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { M, registerFixtureRegistry, repoRoot, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";
import { axeScan, launchChromium, loginAs } from "./browser.js";

/**
 * The web console in Debian's Chromium against a real relay on a loopback socket: login by a one-time code that the
 * real CLI approves (`sealpost login --approve CODE`, spawned, signed with the fixture person's key), the session
 * cookie's attributes, the Content-Security-Policy (header, no inline script in the page, an injected inline script
 * blocked), CSRF (a form posted from another origin refused, the session alive after it), the case list (boxes,
 * state filter, paging, search), keyboard navigation, language switch, an axe-core scan, and zh-TW screenshots
 * under test-results/ (not committed).
 */

const SHOTS = join(repoRoot, "test-results");
let relay: TestRelay;
let url: string;
let browser: Browser;
let attacker: Server;
let attackerUrl: string;

const CASES = 27;

beforeAll(async () => {
  relay = await startRelay("sealpost-console-", { adminName: true });
  url = relay.server.url;
  await registerFixtureRegistry(url);
  // Cases straight into the database: the list pages need many, and sealing files adds nothing to what is tested.
  const q = relay.server.ctx.db.kysely;
  const soc = M.people["soc-chen"];
  const staff = await q.selectFrom("staff").select("id").where("email", "=", soc.email).executeTakeFirstOrThrow();
  for (let i = 0; i < CASES; i++) {
    const t = new Date(Date.UTC(2026, 10, 30, 1, 0, i)).toISOString();
    await q
      .insertInto("cases")
      .values({
        id: `C20261130-${String(i).padStart(8, "0")}`,
        state: i % 3 === 0 ? "cancelled" : "registered",
        category: "C",
        sender_agency: "KHH-SOC",
        sender_staff: staff.id,
        receiving_agency: "KHH-TAX",
        record_count: i + 1,
        upload_no: `UP-${1000 + i}`,
        created_at: t,
        updated_at: t,
      })
      .execute();
  }
  // Another origin (another port: same site, so SameSite alone would not stop it) with a form that posts to the relay.
  attacker = createServer((_req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(
      `<!doctype html><form id="f" method="POST" action="${url}/v1/console/logout"><input name="x" value="1"></form>` +
        `<script>document.getElementById("f").submit()</script>`,
    );
  });
  await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", r));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => attacker?.close(r));
  await relay?.close();
});

describe("web console", () => {
  test("GET / has a strict Content-Security-Policy and the page has no inline script", async () => {
    const r = await fetch(`${url}/`);
    expect(r.status).toBe(200);
    const csp = r.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await r.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/assets\/[^"]+\.js"/);
      expect(body!.trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    // Asset names are single safe path segments: no traversal.
    expect((await fetch(`${url}/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  test("an inline script injected into the page is blocked by the CSP", async () => {
    const context = await browser.newContext({ locale: "zh-TW" });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByTestId("login-code").waitFor();
    const outcome = await page.evaluate(
      () =>
        new Promise<{ ran: boolean; violated: string }>((resolve) => {
          let violated = "";
          document.addEventListener("securitypolicyviolation", (e) => {
            violated = e.violatedDirective;
          });
          const s = document.createElement("script");
          s.textContent = "window.__injected = true";
          document.body.appendChild(s);
          setTimeout(() => resolve({ ran: (window as { __injected?: boolean }).__injected === true, violated }), 200);
        }),
    );
    expect(outcome.ran).toBe(false);
    expect(outcome.violated).toMatch(/^script-src/);
    await context.close();
  });

  test("login by a one-time code approved with the real CLI: HttpOnly SameSite=Strict cookie, logout ends the session on the server", async () => {
    const { context, page } = await loginAs(browser, relay, "soc-chen");
    const cookies = await context.cookies(url);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: "sealpost", httpOnly: true, sameSite: "Strict", path: "/" });
    // Page script cannot read it.
    expect(await page.evaluate(() => document.cookie)).toBe("");
    await page.screenshot({ path: join(SHOTS, "console-inbox-zh-TW.png"), fullPage: true });
    const token = cookies[0]!.value;
    // The cookie works for the API while the session lives ...
    const who = await fetch(`${url}/v1/console/session`, { headers: { cookie: `sealpost=${token}` } });
    expect(who.status).toBe(200);
    expect((await who.json()).actor.email).toBe(M.people["soc-chen"].email);
    await page.getByRole("button", { name: "登出" }).click();
    await page.getByTestId("login-code").waitFor();
    // ... and not after logout: the server deleted it.
    const after = await fetch(`${url}/v1/console/session`, { headers: { cookie: `sealpost=${token}` } });
    expect(after.status).toBe(401);
    await context.close();
  });

  test("a state change without the CSRF token is refused: a cross-origin form post, and a bare fetch with the cookie", async () => {
    const { context, page } = await loginAs(browser, relay, "soc-chen");
    const token = (await context.cookies(url))[0]!.value;
    const attack = await context.newPage();
    const refused = attack.waitForResponse((r) => r.url() === `${url}/v1/console/logout`);
    await attack.goto(attackerUrl);
    const resp = await refused;
    expect(resp.status()).toBe(403);
    expect(await resp.json()).toMatchObject({ error: { code: "FORBIDDEN", details: { reason: "CSRF" } } });
    const bare = await fetch(`${url}/v1/console/logout`, { method: "POST", headers: { cookie: `sealpost=${token}` } });
    expect(bare.status).toBe(403);
    // The session is still alive.
    await page.reload();
    await page.getByText(`登入身分 ${M.people["soc-chen"].name}`).waitFor();
    await context.close();
  });

  test("an unknown or reused code is refused by the CLI approval", async () => {
    const r = await sealpostAs(relay, "tax-wang", ["login", "--approve", "AAAA-BBBB"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No such console login code/);
  });

  test("case list: outbox and inbox, state filter, paging, search by upload number", async () => {
    const { context, page } = await loginAs(browser, relay, "soc-chen");
    await page.getByRole("link", { name: "寄件匣" }).click();
    await page.getByRole("heading", { name: "寄件匣" }).waitFor();
    const rows = page.locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(20);
    // Newest first.
    expect(await rows.first().locator("td").first().textContent()).toBe(
      `C20261130-${String(CASES - 1).padStart(8, "0")}`,
    );
    await page.getByRole("button", { name: "下一頁" }).click();
    await expect.poll(() => rows.count()).toBe(CASES - 20);
    await page.getByRole("button", { name: "第一頁" }).click();
    await expect.poll(() => rows.count()).toBe(20);
    await page.getByLabel("狀態").selectOption("cancelled");
    await expect.poll(() => rows.count()).toBe(Math.ceil(CASES / 3));
    for (const s of await rows.locator("td:nth-child(7)").allTextContents()) expect(s).toBe("已撤回");
    await page.getByLabel("狀態").selectOption("");
    await page.getByLabel("以案件編號或上傳編號搜尋").fill("UP-1005");
    await page.getByRole("button", { name: "搜尋" }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator("td:nth-child(6)").textContent()).toBe("UP-1005");
    await page.screenshot({ path: join(SHOTS, "console-outbox-zh-TW.png"), fullPage: true });
    await page.getByRole("link", { name: "收件匣" }).click();
    await page.getByText("沒有案件。").waitFor();
    await context.close();
  });

  test("keyboard: skip link first, every control reachable by Tab and usable with Enter; English switchable", async () => {
    const { context, page } = await loginAs(browser, relay, "soc-chen");
    await page.goto(`${url}/#/outbox`);
    await expect.poll(() => page.locator("tbody tr").count()).toBe(20);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("跳至主要內容");
    const reached: string[] = [];
    // After the skip link: three boxes, new case, language, logout, state, search field and button, 20 case links, next page.
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      reached.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement | null;
          return `${e?.tagName.toLowerCase()}:${e?.getAttribute("aria-label") ?? e?.textContent?.trim() ?? ""}`;
        }),
      );
    }
    for (const want of [
      "a:收件匣",
      "a:寄件匣",
      "a:全部案件",
      "button:登出",
      "button:搜尋",
      "a:C20261130-00000026",
      "button:下一頁",
    ]) {
      expect(reached, want).toContain(want);
    }
    expect(reached.some((r) => r.startsWith("select:"))).toBe(true);
    // Enter on the next-page button (the last control reached), then on the inbox link.
    expect(reached.at(-1)).toBe("button:下一頁");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(CASES - 20);
    await page.getByRole("link", { name: "收件匣" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "收件匣" }).waitFor();
    // Language switch by keyboard.
    await page.getByRole("button", { name: /Switch to English/ }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe("en");
    await context.close();
  });

  test("axe-core finds no serious or critical violation on the login page and the case list; zh-TW screenshots", async () => {
    const context = await browser.newContext({ locale: "zh-TW" });
    const login = await context.newPage();
    await login.goto(url);
    await login.getByTestId("login-code").waitFor();
    expect(await axeScan(login)).toEqual([]);
    const shot = join(SHOTS, "console-login-zh-TW.png");
    await login.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(5000);
    expect(await login.getByRole("heading", { level: 1 }).textContent()).toBe("登入");
    await context.close();
    const { context: c2, page } = await loginAs(browser, relay, "soc-chen");
    await page.getByRole("link", { name: "寄件匣" }).click();
    await expect.poll(() => page.locator("tbody tr").count()).toBe(20);
    expect(await axeScan(page)).toEqual([]);
    await c2.close();
  });
});

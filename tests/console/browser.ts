import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { M, sealpostAs, type TestRelay } from "../helpers/relay.js";

/**
 * Debian's Chromium (scripts/install.sh installs the `chromium` package; playwright-core never downloads a
 * browser), headless, without the sandbox (the tests run as root) and without background traffic.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** The axe-core engine's source, to evaluate in a page. */
export const AXE_SOURCE_PATH = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Runs axe-core in `page` (evaluated through the DevTools protocol, which the page's CSP does not govern); returns the serious and critical violations. */
export async function axeScan(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  await page.evaluate(readFileSync(AXE_SOURCE_PATH, "utf8"));
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: () => Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }> };
      }
    ).axe;
    const r = await axe.run();
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * Opens the console in a fresh zh-TW context, reads the one-time code and approves it as fixture person `person`
 * with the real CLI (`sealpost login --approve CODE`, spawned); resolves once the page shows who is logged in.
 */
export async function loginAs(
  browser: Browser,
  relay: TestRelay,
  person: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale: "zh-TW" });
  const page = await context.newPage();
  await page.goto(relay.server.url);
  const code = (await page.getByTestId("login-code").textContent())!.trim();
  expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  const r = await sealpostAs(relay, person, ["login", "--approve", code]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(code);
  await page.getByText(`登入身分 ${M.people[person].name}`).waitFor();
  return { context, page };
}

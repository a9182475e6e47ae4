import { createRequire } from "node:module";
import { type Browser, chromium } from "playwright-core";

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

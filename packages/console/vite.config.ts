import { defineConfig } from "vite";

/**
 * The console build: dist/index.html and hashed files under dist/assets/ (served by sealpost-server at / and
 * /assets/NAME). No inline script or style is emitted (the server's Content-Security-Policy forbids them), and no
 * module-preload polyfill (it would be an inline script in older Vite versions; every supported browser has it).
 */
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});

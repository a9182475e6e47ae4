import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";

/**
 * One-way dependencies (README): cli/ and server/ never import each other, tests included (tests that need both
 * live here, in tests/); @sealpost/client depends only on @sealpost/protocol, and its main entry uses no Node
 * module, so the web console can use it in a browser.
 */
const ROOT = resolve(import.meta.dirname, "..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "dist") out.push(...sources(p));
    } else if (/\.(ts|mts|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** The module specifiers a source file imports (static and dynamic imports, re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((m) => m[1]!);
}

/** The workspace folder an import of `file` lands in ("cli", "server", a package) or the package name. */
function target(file: string, spec: string): string {
  if (spec.startsWith(".")) {
    const abs = relative(ROOT, resolve(join(ROOT, file, ".."), spec));
    return abs.split("/")[0] === "packages" ? abs.split("/").slice(0, 2).join("/") : abs.split("/")[0]!;
  }
  return spec;
}

describe("import boundaries", () => {
  test.each([
    ["cli", ["server", "@sealpost/server"]],
    ["server", ["cli", "@sealpost/cli"]],
  ])("nothing under %s/ imports %j", (dir, forbidden) => {
    const bad: string[] = [];
    for (const f of sources(dir)) {
      for (const spec of importsOf(f)) if (forbidden.includes(target(f, spec))) bad.push(`${f}: ${spec}`);
    }
    expect(bad).toEqual([]);
  });

  test("@sealpost/client imports only @sealpost/protocol, and its main entry no node: module", () => {
    const bad: string[] = [];
    for (const f of sources("packages/client/src")) {
      for (const spec of importsOf(f)) {
        if (spec.startsWith(".")) continue;
        if (spec === "@sealpost/protocol") continue;
        if (spec.startsWith("node:") && f.endsWith("/node.ts")) continue;
        bad.push(`${f}: ${spec}`);
      }
      // Only node.ts may use Node modules, and nothing else may import node.ts.
      for (const spec of importsOf(f)) if (spec === "./node.js" && !f.endsWith("/node.ts")) bad.push(`${f}: ${spec}`);
    }
    expect(bad).toEqual([]);
  });
});

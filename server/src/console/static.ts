import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { ServerError } from "../errors.js";

/**
 * The Content-Security-Policy of every console response: scripts, styles and connections from this origin only
 * (no inline script or style, no eval), no plugins, frames, form posts elsewhere or base-URL changes.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

/** The console package's build, as installed beside the server. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../../packages/console/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  woff2: "font/woff2",
  json: "application/json",
};

function secureHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONSOLE_CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY")
    .header("cross-origin-opener-policy", "same-origin");
}

/**
 * GET / (the console page) and GET /assets/NAME (its hashed scripts and styles, cached for a year), from `dir`
 * (default DEFAULT_CONSOLE_DIR; relative to `dataDir`). Asset names are one path segment of safe characters: no
 * traversal. Without a build the page answers 404 NOT_FOUND with the command that makes it.
 */
export async function consoleStatic(app: FastifyInstance, opts: { dir?: string; dataDir: string }): Promise<void> {
  const dir = opts.dir ? (isAbsolute(opts.dir) ? opts.dir : join(opts.dataDir, opts.dir)) : DEFAULT_CONSOLE_DIR;
  const notBuilt = () => new ServerError("NOT_FOUND", "The web console is not built.", { hint: "Run: npm run build" });
  app.get("/", async (_request, reply) => {
    let html: Buffer;
    try {
      html = await readFile(join(dir, "index.html"));
    } catch {
      throw notBuilt();
    }
    return secureHeaders(reply).header("cache-control", "no-store").type("text/html; charset=utf-8").send(html);
  });
  app.get<{ Params: { name: string } }>("/assets/:name", async (request, reply) => {
    const { name } = request.params;
    const ext = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}\.([a-z0-9]+)$/.exec(name)?.[1];
    const type = ext ? TYPES[ext] : undefined;
    const path = join(dir, "assets", name);
    if (!type || !(await stat(path).catch(() => undefined))?.isFile()) {
      throw new ServerError("NOT_FOUND", `No console asset ${name.slice(0, 100)}.`);
    }
    return secureHeaders(reply)
      .header("cache-control", "public, max-age=31536000, immutable")
      .type(type)
      .send(await readFile(path));
  });
}

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Logger } from "../src/log.js";
import { startServer } from "../src/server.js";
import { freshDataDir } from "./helpers.js";

/**
 * `start` and publicUrl: off loopback it is required (refused without it, before listening); on loopback with TLS
 * but without it, a warning says that only loopback origins of the port can log in. A real TLS listener
 * (openssl-made P-256 certificate for 127.0.0.1).
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let tls: { cert: string; key: string };

beforeAll(async () => {
  data = await freshDataDir();
  tls = { cert: join(data.dir, "tls.cert.pem"), key: join(data.dir, "tls.key.pem") };
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
  args.push("-subj", "/CN=sealpost test relay", "-addext", "subjectAltName=IP:127.0.0.1");
  execFileSync("openssl", [...args, "-keyout", tls.key, "-out", tls.cert], { stdio: "pipe" });
});
afterAll(() => data?.cleanup());

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { info() {}, error() {}, warn: (m) => warnings.push(m), warnings };
}

async function warningsAtStart(config: Record<string, unknown>): Promise<string[]> {
  const log = capture();
  const s = await startServer(data.dir, { listen: "127.0.0.1:0", tls, log, config });
  try {
    expect(s.tls).toBe(true);
  } finally {
    await s.close();
  }
  return log.warnings;
}

test("TLS on loopback without publicUrl: a warning names publicUrl and the loopback-only logins", async () => {
  const w = await warningsAtStart({});
  expect(
    w.filter((m) => /publicUrl is not set/.test(m) && /only when signed for a loopback origin/.test(m)),
  ).toHaveLength(1);
});

test("off loopback without publicUrl: refused before listening, with the error and the hint", async () => {
  const log = capture();
  const err = await startServer(data.dir, { listen: "0.0.0.0:0", tls, log, config: {} }).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string; hint?: string },
  );
  expect(err?.code).toBe("BAD_REQUEST");
  expect(err?.message).toBe("Refusing to listen on 0.0.0.0 without a public URL.");
  expect(err?.hint).toContain("--public-url");
});

test("TLS with publicUrl: no such warning", async () => {
  const w = await warningsAtStart({ publicUrl: "https://sealpost.example.gov.tw" });
  expect(w.filter((m) => /publicUrl/.test(m))).toEqual([]);
});

import { createHash } from "node:crypto";
import { once } from "node:events";
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RemoteClient } from "../src/remote/client.js";

/**
 * `receive`/`result` keep the sealed download as `.<id>.<kind>.p7m.part` in the output folder (to resume it). In a
 * folder others can write to, a symbolic link planted under that name must not make the CLI write (or append)
 * the download into the link's target. A real HTTP server on a loopback socket serves the file.
 */

const BODY = Buffer.from("sealed bytes ".repeat(100));
const SHA = createHash("sha256").update(BODY).digest("hex");
let work: string;
let server: Server;
let url: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sealpost-dl-"));
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "x-sealpost-sha256": SHA });
    res.end(BODY);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("download into a planted link", () => {
  test.each([true, false])("resume=%s: the link's target is untouched and the error is IO", async (resume) => {
    const victim = join(work, `victim-${resume}.txt`);
    writeFileSync(victim, "precious\n");
    const part = join(work, `.C1.payload.p7m.part-${resume}`);
    symlinkSync(victim, part);
    const client = new RemoteClient(url, "t".repeat(43));
    await expect(client.download("payload", "C1", part, undefined, { resume })).rejects.toMatchObject({
      code: "IO",
    });
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(part).isSymbolicLink()).toBe(true);
  });

  test("a regular partial file is still completed", async () => {
    const part = join(work, ".C2.payload.p7m.part");
    const got = await new RemoteClient(url).download("payload", "C2", part, undefined, { resume: true });
    expect(got.sha256).toBe(SHA);
    expect(readFileSync(part)).toEqual(BODY);
    expect(lstatSync(part).mode & 0o777).toBe(0o600);
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, SealpostClient } from "@sealpost/client";
import { fileBody, saveDownload } from "@sealpost/client/node";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { clientAs, keyOf, registerFixtureRegistry, startRelay, type TestRelay } from "./helpers/relay.js";

/** @sealpost/client against a real relay (in-process server, loopback socket). */

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay("sealpost-client-");
  await registerFixtureRegistry(relay.server.url);
});
afterAll(async () => {
  await relay?.close();
});

describe("SealpostClient", () => {
  test("refuses http:// to another machine (BAD_URL) and keeps a path prefix", () => {
    expect(() => new SealpostClient({ server: "http://sealpost.example.gov.tw" })).toThrow(
      expect.objectContaining({ code: "BAD_URL" }),
    );
    expect(new SealpostClient({ server: "https://relay.example/api/" }).base).toBe("https://relay.example/api");
  });

  test("typed calls, server refusals as ApiError with code and status, every response seen by onResponse", async () => {
    const seen: number[] = [];
    const anon = new SealpostClient({ server: relay.server.url, onResponse: (r) => void seen.push(r.status) });
    await expect(anon.whoami()).rejects.toMatchObject({ code: "UNAUTHENTICATED", status: 401 });
    expect(seen).toEqual([401]);
    const soc = await clientAs(relay.server.url, "soc-chen");
    expect(await soc.whoami()).toMatchObject({ role: "staff", agency: "KHH-SOC" });
    await expect(soc.listAgencies()).rejects.toMatchObject({ code: "FORBIDDEN", status: 403 });
    await expect(soc.getCase({ params: { id: "C-none" } })).rejects.toBeInstanceOf(ApiError);
    await expect(new SealpostClient({ server: "http://127.0.0.1:1" }).whoami()).rejects.toMatchObject({
      code: "SERVER_UNREACHABLE",
    });
  });

  test("paging: listCasesPage follows X-Next-Cursor, allCases walks every page", async () => {
    const soc = await clientAs(relay.server.url, "soc-chen");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await soc.createCase({
        body: { category: "C", receivingAgency: "KHH-TAX", recordCount: i, uploadNo: `P-${i}` },
      });
      ids.push(p.case.id);
    }
    const first = await soc.listCasesPage({ box: "outbox", limit: 2 });
    expect(first.cases).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const all: string[] = [];
    for await (const c of soc.allCases({ box: "outbox", limit: 2 })) all.push(c.id);
    expect(all.sort()).toEqual(expect.arrayContaining([...ids].sort()));
    expect(new Set(all).size).toBe(all.length);
  });

  test("a sealed file goes up as a stream and comes down whole and by range, with the recorded SHA-256", async () => {
    const soc = await clientAs(relay.server.url, "soc-chen");
    const profile = await soc.createCase({
      body: { category: "C", receivingAgency: "KHH-TAX", recordCount: 1, uploadNo: "S-1" },
    });
    const plain = join(relay.work, "plain.bin");
    writeFileSync(plain, Buffer.alloc(200_000, 3));
    const sealed = join(relay.work, "sealed.p7m");
    await sealFile(plain, sealed, {
      recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: await keyOf("soc-chen"),
    });
    const { body, size } = await fileBody(sealed);
    const up = await soc.upload("payload", profile.case.id, body, { size });
    expect(up.state).toBe("sent");
    const tax = await clientAs(relay.server.url, "tax-wang");
    const whole = await tax.download("payload", profile.case.id);
    expect(whole.status).toBe(200);
    const out = join(relay.work, "down.p7m");
    const saved = await saveDownload(whole, out);
    expect(saved).toEqual({ sha256: up.payload?.sha256, size });
    expect(readFileSync(out).equals(readFileSync(sealed))).toBe(true);
    const part = await tax.download("payload", profile.case.id, { range: { start: 10, end: 19 } });
    expect(part.status).toBe(206);
    expect(part.range).toEqual({ start: 10, end: 19, size });
    expect(Buffer.from(await new Response(part.body).arrayBuffer())).toEqual(readFileSync(sealed).subarray(10, 20));
    await expect(tax.download("payload", profile.case.id, { range: { start: size + 5 } })).rejects.toMatchObject({
      code: "RANGE_NOT_SATISFIABLE",
      status: 416,
    });
  });
});

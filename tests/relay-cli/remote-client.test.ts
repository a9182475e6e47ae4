import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import type { RunningServer } from "@sealpost/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RemoteClient } from "../../cli/src/remote/client.js";
import { keyOf, registerFixtureRegistry, startRelay, type TestRelay } from "../helpers/relay.js";

/** The CLI's HTTP client against a real server: login by signature, streamed upload, resumed download. */

let relay: TestRelay;
let work: string;
let server: RunningServer;

beforeAll(async () => {
  relay = await startRelay("sealpost-client-");
  ({ work, server } = relay);
});
afterAll(async () => {
  await relay?.close();
});

test("an interrupted download resumes with a Range request and ends with the whole file, hash checked", async () => {
  await registerFixtureRegistry(server.url);
  const soc = new RemoteClient(`${server.url}/`);
  await soc.login(await keyOf("soc-chen"));
  const profile = await soc.call("createCase", {
    body: { category: "C", receivingAgency: "KHH-TAX", recordCount: 1, uploadNo: "1" },
  });
  const plain = join(work, "plain.bin");
  writeFileSync(plain, Buffer.alloc(300_000, 7));
  const sealed = join(work, "sealed.p7m");
  await sealFile(plain, sealed, {
    recipients: profile.recipients.map((r) => parseCertificate(r.certificate.pem)),
    signer: await keyOf("soc-chen"),
  });
  let sent = 0;
  const up = await soc.upload("payload", profile.case.id, sealed, (n) => (sent = n));
  expect(up.state).toBe("sent");
  expect(sent).toBe(statSync(sealed).size);

  const tax = new RemoteClient(server.url);
  await tax.login(await keyOf("tax-wang"));
  const part = join(work, "download.part");
  // What an interrupted download leaves: the first 100,000 bytes.
  const whole = readFileSync(sealed);
  writeFileSync(part, whole.subarray(0, 100_000));
  const dl = await tax.download("payload", profile.case.id, part, undefined, { resume: true });
  expect(dl.resumedFrom).toBe(100_000);
  expect(readFileSync(part)).toEqual(whole);
  const audit = await server.ctx.db.kysely
    .selectFrom("audit_log")
    .select("detail")
    .where("case_id", "=", profile.case.id)
    .where("action", "=", "case.download_payload")
    .execute();
  expect(JSON.parse(audit[0]!.detail).range).toBe("bytes=100000-");

  // A corrupted partial file is caught by the hash check and removed.
  writeFileSync(part, Buffer.alloc(100_000, 1));
  await expect(tax.download("payload", profile.case.id, part, undefined, { resume: true })).rejects.toMatchObject({
    code: "HASH_MISMATCH",
    exitCode: 6,
  });
  expect(() => statSync(part)).toThrow();
  // A complete file asked for "the rest" (416) is fetched whole again.
  writeFileSync(part, whole);
  const again = await tax.download("payload", profile.case.id, part, undefined, { resume: true });
  expect(again.resumedFrom).toBe(0);
  expect(readFileSync(part)).toEqual(whole);

  // Server refusals carry the server's code and the CLI's exit code.
  await expect(tax.call("cancelCase", { params: { id: profile.case.id }, body: {} })).rejects.toMatchObject({
    code: "FORBIDDEN",
    exitCode: 11,
  });
  await expect(new RemoteClient("http://127.0.0.1:1").call("listCases")).rejects.toMatchObject({
    code: "SERVER_UNREACHABLE",
    exitCode: 10,
  });
});

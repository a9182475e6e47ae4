import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SealpostClient } from "@sealpost/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { clientAs, M, pki, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * A case becomes received (result received) by the receiver's signed receipt, never by a download; and running
 * `receive` / `result` again verifies what is there, exits 0 and writes nothing new. Real relay on a loopback port,
 * the real `sealpost` binary for every person.
 */

let relay: TestRelay;
let soc: SealpostClient;

beforeAll(async () => {
  relay = await startRelay("sealpost-receipt-states-");
  await registerFixtureRegistry(relay.server.url);
  soc = await clientAs(relay.server.url, "soc-chen");
  for (const id of ["soc-chen", "tax-wang"]) expect((await sealpostAs(relay, id, ["login"])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

/** `sealpost send` of a small batch from soc-chen to tax-wang; returns the case id. */
async function sendCase(uploadNo: string): Promise<string> {
  const batch = join(relay.work, `batch-${uploadNo}.csv`);
  writeFileSync(batch, "id,name\n1,王小明\n2,林美華\n");
  const r = await sealpostAs(relay, "soc-chen", [
    "--json",
    "send",
    batch,
    "--to-agency",
    "KHH-TAX",
    "--category",
    "C",
    "--records",
    "2",
    "--upload-no",
    uploadNo,
    "--to-user",
    M.people["tax-wang"].email,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).case.id;
}

const stateOf = async (id: string) => (await soc.getCase({ params: { id } })).state;

describe("case states follow signed receipts", () => {
  test("a receive that fails to open (wrong keystore) leaves the case sent, writes nothing, and the sender can cancel", async () => {
    const id = await sendCase("R-1");
    const out = join(relay.work, "wrong-key");
    // tax-wang is logged in, but opens with soc-lin's keystore: not a recipient of the file.
    const lin = M.people["soc-lin"];
    const r = await sealpostAs(relay, "tax-wang", ["receive", id, "-o", out], {
      config: { keystore: pki(lin.p12) },
      pin: lin.pin,
    });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/NOT_A_RECIPIENT|not a recipient/i);
    expect(readdirSync(out)).toEqual([]);
    expect(await stateOf(id)).toBe("sent");
    expect(await soc.listReceipts({ params: { id } })).toEqual([]);
    const cancelled = await sealpostAs(relay, "soc-chen", ["cancel", id, "--reason", "wrong batch"]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(await stateOf(id)).toBe("cancelled");
  }, 120_000);

  test("receive and result move the case by their receipts; running them again is idempotent", async () => {
    const id = await sendCase("R-2");
    const inbox = join(relay.work, "inbox");
    const first = await sealpostAs(relay, "tax-wang", ["--json", "receive", id, "-o", inbox]);
    expect(first.code, first.stderr).toBe(0);
    const got = JSON.parse(first.stdout);
    expect(got.alreadyReceived).toBe(false);
    expect(readFileSync(got.file, "utf8")).toContain("王小明");
    expect(readdirSync(inbox)).toEqual(["batch-R-2.csv"]);
    expect(await stateOf(id)).toBe("received");

    const again = await sealpostAs(relay, "tax-wang", ["--json", "receive", id, "-o", inbox]);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.alreadyReceived).toBe(true);
    expect(second.file).toBe(got.file);
    expect(second.receiptId).toBe(got.receiptId);
    expect(readdirSync(inbox)).toEqual(["batch-R-2.csv"]);
    const payloadReceipts = (await soc.listReceipts({ params: { id } })).filter((r) => r.statement.kind === "payload");
    expect(payloadReceipts).toHaveLength(1);

    // Another file of the same name already in the folder is never replaced: the case-named fallback is used.
    const other = join(relay.work, "other");
    const taken = await sealpostAs(relay, "tax-wang", ["--json", "receive", id, "-o", other]);
    expect(taken.code, taken.stderr).toBe(0);
    writeFileSync(join(other, "batch-R-2.csv"), "not the batch");
    const fallback = await sealpostAs(relay, "tax-wang", ["--json", "receive", id, "-o", other]);
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(readFileSync(join(other, "batch-R-2.csv"), "utf8")).toBe("not the batch");
    expect(readdirSync(other).sort()).toEqual(["batch-R-2.csv", `${id}.payload`].sort());
    expect(JSON.parse(fallback.stdout).receiptId).toBe(got.receiptId);

    const result = join(relay.work, "result-R-2.csv");
    writeFileSync(result, "seq,match\n1,Y\n2,N\n");
    expect((await sealpostAs(relay, "tax-wang", ["reply", id, result])).code).toBe(0);
    expect(await stateOf(id)).toBe("processed");

    // soc-chen downloads the result through the API without opening it: the case stays processed.
    const dl = await soc.download("result", id);
    await new Response(dl.body).arrayBuffer();
    expect(await stateOf(id)).toBe("processed");

    const outbox = join(relay.work, "outbox");
    const back = await sealpostAs(relay, "soc-chen", ["--json", "result", id, "-o", outbox]);
    expect(back.code, back.stderr).toBe(0);
    expect(await stateOf(id)).toBe("result_received");
    const backAgain = await sealpostAs(relay, "soc-chen", ["--json", "result", id, "-o", outbox]);
    expect(backAgain.code, backAgain.stderr).toBe(0);
    expect(JSON.parse(backAgain.stdout).alreadyReceived).toBe(true);
    expect(readdirSync(outbox)).toEqual(["result-R-2.csv"]);
    expect((await soc.listReceipts({ params: { id } })).map((r) => r.statement.kind).sort()).toEqual([
      "payload",
      "result",
    ]);
  }, 240_000);
});

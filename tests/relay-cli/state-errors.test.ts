import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { M, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * A refusal for the case's state says in users' words where the case is and what to do next, while the code
 * (ILLEGAL_TRANSITION, exit 12) and the details (state, action, allowedFrom) stay as they were. Real relay on a
 * loopback port, the real `sealpost` binary.
 */

let relay: TestRelay;
let caseId: string;
let result: string;

beforeAll(async () => {
  relay = await startRelay("sealpost-state-errors-");
  await registerFixtureRegistry(relay.server.url);
  for (const id of ["soc-chen", "tax-wang"]) expect((await sealpostAs(relay, id, ["login"])).code).toBe(0);
  const batch = join(relay.work, "batch.csv");
  writeFileSync(batch, "id,name\n1,王小明\n");
  result = join(relay.work, "result.csv");
  writeFileSync(result, "id,income\n1,0\n");
  const send = await sealpostAs(relay, "soc-chen", [
    "--json",
    "send",
    batch,
    "--to-agency",
    "KHH-TAX",
    "--category",
    "C",
    "--records",
    "1",
    "--upload-no",
    "ST-1",
    "--to-user",
    M.people["tax-wang"].email,
  ]);
  expect(send.code, send.stderr).toBe(0);
  caseId = JSON.parse(send.stdout).case.id;
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

test("reply and note before receiving: 'run sealpost receive ID first', code and details unchanged", async () => {
  for (const args of [
    ["reply", caseId, result],
    ["note", caseId, "checked"],
  ]) {
    const r = await sealpostAs(relay, "tax-wang", args);
    expect(r.code, r.stderr).toBe(12);
    expect(r.stderr).toContain(
      `sealpost: error: This case has not been received yet: run \`sealpost receive ${caseId}\` first. [ILLEGAL_TRANSITION]`,
    );
    expect(r.stderr).toMatch(/sealpost: hint: Receive it/);
  }
  const j = await sealpostAs(relay, "tax-wang", ["--json", "note", caseId, "checked"]);
  expect(JSON.parse(j.stdout).error).toMatchObject({
    code: "ILLEGAL_TRANSITION",
    exitCode: 12,
    details: { caseId, state: "sent", action: "add_note", allowedFrom: ["received"] },
  });
});

test("fetching a result not sent yet and cancelling a received case: each names the next step", async () => {
  const early = await sealpostAs(relay, "soc-chen", ["result", caseId, "-o", join(relay.work, "res")]);
  expect(early.code, early.stderr).toBe(12);
  expect(early.stderr).toMatch(/has been sent, but not received yet: the receiving agency has not sent a result yet/);
  expect(early.stderr).toMatch(/hint: Wait for their reply.*sealpost case show/);

  const got = await sealpostAs(relay, "tax-wang", ["receive", caseId, "-o", join(relay.work, "in")]);
  expect(got.code, got.stderr).toBe(0);
  const cancel = await sealpostAs(relay, "soc-chen", ["cancel", caseId, "--reason", "late"]);
  expect(cancel.code, cancel.stderr).toBe(12);
  expect(cancel.stderr).toMatch(
    /has been received: the receiving agency already has it, so it can no longer be cancelled/,
  );
  expect(cancel.stderr).toMatch(/hint: Tell the receiving agency instead/);
});

test("reply --records: the result's manifest carries the result's own record count", async () => {
  const reply = await sealpostAs(relay, "tax-wang", ["reply", caseId, result, "--records", "7"]);
  expect(reply.code, reply.stderr).toBe(0);
  const r = await sealpostAs(relay, "soc-chen", ["--json", "result", caseId, "-o", join(relay.work, "res")]);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).manifest.recordCount).toBe(7);
  const bad = await sealpostAs(relay, "tax-wang", ["reply", caseId, result, "--records", "many"]);
  expect(bad.code).toBe(2);
});

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { clientAs, M, registerFixtureRegistry, sealpostAs, startRelay, type TestRelay } from "../helpers/relay.js";

/**
 * `sealpost send` to the sender's own agency is refused up front (400 SAME_AGENCY, exit 2, with what to do instead),
 * never an HTTP 500, and registers nothing. Real relay on a loopback port, the real `sealpost` binary.
 */

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay("sealpost-same-agency-");
  await registerFixtureRegistry(relay.server.url);
  expect((await sealpostAs(relay, "soc-chen", ["login"])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await relay?.close();
});

test("send to your own agency: SAME_AGENCY with a hint, exit 2, no case registered", async () => {
  const batch = join(relay.work, "batch.csv");
  writeFileSync(batch, "id,name\n1,王小明\n");
  const own = M.people["soc-chen"].agency;
  for (const agency of [own, own.toLowerCase()]) {
    const r = await sealpostAs(relay, "soc-chen", [
      "send",
      batch,
      "--to-agency",
      agency,
      "--category",
      "C",
      "--records",
      "1",
      "--upload-no",
      "SELF-1",
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("[SAME_AGENCY]");
    expect(r.stderr).toMatch(/cannot send to your own agency \(KHH-SOC\)/);
    expect(r.stderr).toMatch(/hint: .*--to-agency/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  const json = await sealpostAs(relay, "soc-chen", [
    "--json",
    "send",
    batch,
    "--to-agency",
    own,
    "--category",
    "C",
    "--records",
    "1",
    "--upload-no",
    "SELF-2",
  ]);
  expect(json.code).toBe(2);
  expect(JSON.parse(json.stdout).error).toMatchObject({ code: "SAME_AGENCY", exitCode: 2, details: { agency: own } });
  const soc = await clientAs(relay.server.url, "soc-chen");
  expect(await soc.listCases({ query: {} })).toEqual([]);
});

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sealFile } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import {
  allowedStates,
  CASE_STATES,
  type CaseAction,
  type CaseRecord,
  type CaseState,
  type TransferProfile,
} from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, REPO, registerFixtures, signedReceipt, startTestServer } from "./helpers.js";
import { rawGet, rawRun } from "./helpers/sql.js";

/**
 * The case state machine over HTTP: every request from every state it is not allowed in gets 409 and leaves the
 * case as it was; of two concurrent transitions exactly one wins. The receive transitions are made by receipts, so
 * they are requested as receipts (payload_receipt, result_receipt).
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
let work: string;
const soc = () => apis.soc;
const apis = {} as { soc: Api; tax: Api };

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  work = mkdtempSync(join(tmpdir(), "sealpost-state-"));
  const admin = new Api(server.url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
  apis.soc = new Api(server.url);
  await apis.soc.login("soc-chen");
  apis.tax = new Api(server.url);
  await apis.tax.login("tax-wang");
});
afterAll(async () => {
  await server?.close();
  data?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function freshCase(): Promise<TransferProfile> {
  const r = await soc().call<TransferProfile>("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 1,
    uploadNo: "S-1",
  });
  expect(r.status).toBe(201);
  return r.body;
}

/** Each request as the side allowed to make it would (bodies are irrelevant: the state is checked first). */
type Request = Exclude<CaseAction, "receive_payload" | "receive_result"> | CaseRecord;
// biome-ignore lint/suspicious/noExplicitAny: response fields are checked one by one
const REQUEST: Record<Request, (id: string) => Promise<{ status: number; body: any }>> = {
  upload_payload: (id) => apis.soc.call("PUT", `/v1/cases/${id}/payload`, new Uint8Array([0x30, 0x80])),
  download_payload: (id) => apis.tax.call("GET", `/v1/cases/${id}/payload`),
  payload_receipt: (id) =>
    apis.tax.call("POST", `/v1/cases/${id}/receipts`, signedReceipt("tax-wang", id, "payload", "0".repeat(64))),
  add_note: (id) => apis.tax.call("POST", `/v1/cases/${id}/notes`, { text: "note" }),
  upload_result: (id) => apis.tax.call("PUT", `/v1/cases/${id}/result`, new Uint8Array([0x30, 0x80])),
  download_result: (id) => apis.soc.call("GET", `/v1/cases/${id}/result`),
  result_receipt: (id) =>
    apis.soc.call("POST", `/v1/cases/${id}/receipts`, signedReceipt("soc-chen", id, "result", "0".repeat(64))),
  cancel: (id) => apis.soc.call("POST", `/v1/cases/${id}/cancel`, {}),
};

const STATES = Object.keys(CASE_STATES) as CaseState[];
const ILLEGAL = (Object.keys(REQUEST) as Request[]).flatMap((action) =>
  STATES.filter((s) => !allowedStates(action).includes(s)).map((state) => ({ action, state })),
);

describe("illegal transitions", () => {
  test("the table covers every illegal pair", () => {
    // 8 requests x 6 states minus the 17 legal pairs of packages/protocol/src/cases.ts
    expect(ILLEGAL).toHaveLength(48 - 17);
  });

  test.each(ILLEGAL.map((c) => [`${c.action} from ${c.state}`, c] as const))(
    "%s is refused with 409",
    async (_n, { action, state }) => {
      const p = await freshCase();
      // Put the case into the state directly (the legal paths are covered by the round trip test).
      await rawRun(server.ctx.db, "UPDATE cases SET state = ? WHERE id = ?", state, p.case.id);
      const before = await rawGet(server.ctx.db, "SELECT * FROM cases WHERE id = ?", p.case.id);
      const auditBefore = ((await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM audit_log")) as { n: number }).n;
      const r = await REQUEST[action](p.case.id);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error.code).toBe("ILLEGAL_TRANSITION");
      expect(r.body.error.details.state).toBe(state);
      expect(await rawGet(server.ctx.db, "SELECT * FROM cases WHERE id = ?", p.case.id)).toEqual(before);
      expect(((await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM audit_log")) as { n: number }).n).toBe(
        auditBefore,
      );
    },
  );
});

describe("concurrent transitions", () => {
  test("two cancels at once: exactly one wins", async () => {
    const p = await freshCase();
    const rs = await Promise.all([REQUEST.cancel(p.case.id), REQUEST.cancel(p.case.id)]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409]);
    const cancels = (await rawGet(
      server.ctx.db,
      "SELECT COUNT(*) AS n FROM audit_log WHERE case_id = ? AND action = 'case.cancel'",
      p.case.id,
    )) as {
      n: number;
    };
    expect(cancels.n).toBe(1);
  });

  test("two uploads of the payload at once: exactly one wins, the case has that file", async () => {
    const p = await freshCase();
    const files = [] as string[];
    for (const n of [1, 2]) {
      const out = join(work, `p${n}.p7m`);
      await sealFile(join(REPO, "fixtures/batches/sample-100.csv"), out, {
        recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
        signer: keyEntry("soc-chen", "sign"),
      });
      files.push(out);
    }
    const rs = await Promise.all(
      files.map((f) => soc().call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(readFileSync(f)))),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = rs.find((r) => r.status === 201)!;
    const row = (await rawGet(server.ctx.db, "SELECT state, payload_sha256 FROM cases WHERE id = ?", p.case.id)) as {
      state: string;
      payload_sha256: string;
    };
    expect(row).toEqual({ state: "sent", payload_sha256: winner.body.payload.sha256 });
    // The loser's file is not kept.
    const stored = (await rawGet(server.ctx.db, "SELECT COUNT(*) AS n FROM files")) as { n: number };
    const onDisk = readdirSync(join(data.dir, "files"));
    expect(onDisk).toHaveLength(stored.n);
    expect(onDisk).toContain(winner.body.payload.sha256);
  });

  test("cancel racing the receiver's receipt: exactly one wins; a download alone moves nothing", async () => {
    const p = await freshCase();
    const sealed = join(work, "race.p7m");
    await sealFile(join(REPO, "fixtures/batches/sample-100.csv"), sealed, {
      recipients: p.recipients.map((r) => parseCertificate(r.certificate.pem)),
      signer: keyEntry("soc-chen", "sign"),
    });
    const up = await soc().call("PUT", `/v1/cases/${p.case.id}/payload`, new Uint8Array(readFileSync(sealed)));
    expect(up.status).toBe(201);
    expect((await REQUEST.download_payload(p.case.id)).status).toBe(200);
    const stateNow = async () =>
      ((await rawGet(server.ctx.db, "SELECT state FROM cases WHERE id = ?", p.case.id)) as { state: string }).state;
    expect(await stateNow()).toBe("sent");
    const receipt = signedReceipt("tax-wang", p.case.id, "payload", up.body.payload.sha256);
    const [c, d] = await Promise.all([
      REQUEST.cancel(p.case.id),
      apis.tax.call("POST", `/v1/cases/${p.case.id}/receipts`, receipt),
    ]);
    // Either the cancel wins (200) and the receipt is refused (409), or the receipt is kept (201) and the cancel
    // is refused (409).
    expect([c.status, d.status]).toEqual(c.status === 200 ? [200, 409] : [409, 201]);
    expect(await stateNow()).toBe(c.status === 200 ? "cancelled" : "received");
  });
});

import type { RosterEntry, TransferProfile } from "@sealpost/protocol";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../src/server.js";
import { Api, freshDataDir, keyEntry, person, registerFixtures, startTestServer } from "./helpers.js";
import { signedRoster } from "./helpers/roster.js";
import { rawAll } from "./helpers/sql.js";

/**
 * The rosters domain over a real socket: officer keys (admin), the relay storing only rosters a current officer of
 * the agency signed with a growing version, and cases going only to certificates on the agency's current roster.
 * Runs on SQLite and PostgreSQL.
 */

let data: Awaited<ReturnType<typeof freshDataDir>>;
let server: RunningServer;
const apis = {} as { admin: Api; soc: Api; lee: Api };
const TAX = "KHH-TAX";
const roster = `/v1/agencies/${TAX}/roster`;
const officers = `/v1/admin/agencies/${TAX}/officers`;
const signSha = (id: string) => keyEntry(id, "sign").cert.sha256;
const encSha = (id: string) => keyEntry(id, "encrypt").cert.sha256;

beforeAll(async () => {
  data = await freshDataDir();
  server = await startTestServer(data.dir);
  apis.admin = new Api(server.url);
  await apis.admin.login("ops-wu");
  await registerFixtures(apis.admin);
  apis.soc = new Api(server.url);
  await apis.soc.login("soc-chen");
  apis.lee = new Api(server.url);
  await apis.lee.login("tax-lee");
});
afterAll(async () => {
  await server?.close();
  await data?.cleanup();
});

/** The proposal's recipients without the given staff members. */
async function proposalWithout(...ids: string[]): Promise<RosterEntry[]> {
  const p = await apis.soc.call("GET", `${roster}/proposal`);
  expect(p.status).toBe(200);
  const emails = ids.map((id) => person(id).email);
  return (p.body.recipients as RosterEntry[]).filter((e) => !emails.includes(e.email));
}

describe("officer keys", () => {
  test("an admin makes a staff member's signing certificate an officer key; its SHA-256 is answered", async () => {
    const r = await apis.admin.call("POST", officers, { user: person("tax-lee").email });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ agency: TAX, email: person("tax-lee").email, certSha256: signSha("tax-lee") });
    expect((await apis.admin.call("POST", officers, { user: person("tax-lee").email })).status).toBe(409);
    const list = await apis.admin.call("GET", officers);
    expect(list.body.map((o: { certSha256: string }) => o.certSha256)).toEqual([signSha("tax-lee")]);
  });

  test("staff of another agency, unknown staff and non-admins are refused", async () => {
    const other = await apis.admin.call("POST", officers, { user: person("soc-lin").email });
    expect(other.status).toBe(400);
    expect((await apis.admin.call("POST", officers, { user: "nobody@tax.khh.example" })).status).toBe(404);
    expect((await apis.soc.call("POST", officers, { user: person("tax-wang").email })).status).toBe(403);
    expect((await apis.admin.call("POST", "/v1/admin/agencies/NOPE/officers", { user: "a@b.c" })).status).toBe(404);
  });
});

describe("storing rosters", () => {
  test("no roster yet: 404; the proposal lists the registry's recipients as pending", async () => {
    const r = await apis.soc.call("GET", roster);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("NOT_FOUND");
    const p = await apis.soc.call("GET", `${roster}/proposal`);
    expect(p.body).toMatchObject({ agency: TAX, currentVersion: null, nextVersion: 1, pending: true });
    const shas = (p.body.recipients as RosterEntry[]).map((e) => e.certSha256);
    for (const id of ["tax-wang", "tax-lee", "tax-chang"]) expect(shas).toContain(encSha(id));
  });

  test("an officer's roster is stored and served as signed; the proposal is then not pending", async () => {
    const cms = await signedRoster("tax-lee", { agency: TAX, version: 1, recipients: await proposalWithout() });
    const put = await apis.lee.call("PUT", roster, { cms });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect(put.body).toMatchObject({ agency: TAX, version: 1, signerSha256: signSha("tax-lee") });
    const got = await apis.soc.call("GET", roster);
    expect(got.body.cms).toBe(cms);
    expect((await apis.soc.call("GET", `${roster}/proposal`)).body).toMatchObject({
      currentVersion: 1,
      nextVersion: 2,
      pending: false,
    });
  });

  test("the same or a lower version: 409 CONFLICT, nothing stored", async () => {
    const recipients = await proposalWithout("tax-chang");
    for (const version of [1]) {
      const r = await apis.lee.call("PUT", roster, {
        cms: await signedRoster("tax-lee", { agency: TAX, version, recipients }),
      });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe("CONFLICT");
    }
    const rows = await rawAll(server.ctx.db, "SELECT version FROM rosters WHERE agency = ?", TAX);
    expect(rows.map((r) => Number(r.version))).toEqual([1]);
  });

  test.each([
    ["a signer who is not an officer", "tax-wang", TAX, "NOT_AN_OFFICER"],
    ["an officer signing another agency's roster", "tax-lee", "KHH-SOC", "WRONG_AGENCY"],
  ])("%s: 422 ROSTER_REJECTED", async (_n, signer, agency, reason) => {
    const cms = await signedRoster(signer, { agency, version: 2, recipients: [] });
    const r = await apis.lee.call("PUT", roster, { cms });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: "ROSTER_REJECTED", details: { reason } });
  });

  test("tampered, non-roster and non-base64 bodies are refused", async () => {
    const good = Buffer.from(await signedRoster("tax-lee", { agency: TAX, version: 2, recipients: [] }), "base64");
    const at = good.indexOf(Buffer.from('"version":2'));
    expect(at).toBeGreaterThan(0);
    good[at + 10] = "9".charCodeAt(0);
    const tampered = await apis.lee.call("PUT", roster, { cms: good.toString("base64") });
    expect(tampered.status).toBe(422);
    expect(tampered.body.error.code).toBe("ROSTER_REJECTED");
    const notRoster = await signedRoster("tax-lee", { agency: TAX, version: 2, recipients: [] }, Buffer.from("{}"));
    const r2 = await apis.lee.call("PUT", roster, { cms: notRoster });
    expect(r2.body.error).toMatchObject({ code: "ROSTER_REJECTED", details: { reason: "ROSTER_MALFORMED" } });
    expect((await apis.lee.call("PUT", roster, { cms: "%%%" })).status).toBe(400);
    expect((await apis.soc.call("GET", roster)).body.version).toBe(1);
  });
});

describe("cases go only to certificates on the receiving agency's roster", () => {
  test("a recipient left off the roster is pending: named, refused with NOT_ON_ROSTER; by default left out", async () => {
    const cms = await signedRoster("tax-lee", {
      agency: TAX,
      version: 2,
      recipients: await proposalWithout("tax-chang"),
    });
    expect((await apis.lee.call("PUT", roster, { cms })).status).toBe(201);
    const req = { category: "WELFARE-TAX", receivingAgency: TAX, recordCount: 1, uploadNo: "R-1" };
    const named = await apis.soc.call("POST", "/v1/cases", { ...req, receivers: [person("tax-chang").email] });
    expect(named.status).toBe(422);
    expect(named.body.error.code).toBe("NOT_ON_ROSTER");
    const preview = await apis.soc.call("POST", "/v1/cases/recipients", req);
    expect(preview.status).toBe(200);
    const created = await apis.soc.call<TransferProfile>("POST", "/v1/cases", req);
    expect(created.status).toBe(201);
    const shas = created.body.recipients.map((r) => r.certificate.sha256);
    expect(preview.body.map((r: { certificate: { sha256: string } }) => r.certificate.sha256).sort()).toEqual(
      [...shas].sort(),
    );
    expect(shas).toContain(encSha("tax-wang"));
    expect(shas).not.toContain(encSha("tax-chang"));
    const proposal = await apis.soc.call("GET", `${roster}/proposal`);
    expect(proposal.body.pending).toBe(true);
  });

  test("a removed officer key signs no more rosters", async () => {
    const r = await apis.admin.call("DELETE", `${officers}/${signSha("tax-lee")}`);
    expect(r.status).toBe(200);
    const cms = await signedRoster("tax-lee", { agency: TAX, version: 3, recipients: await proposalWithout() });
    const put = await apis.lee.call("PUT", roster, { cms });
    expect(put.status).toBe(422);
    expect(put.body.error.details.reason).toBe("NOT_AN_OFFICER");
    expect((await apis.admin.call("GET", officers)).body).toEqual([]);
  });
});

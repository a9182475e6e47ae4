import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  clientAs,
  M,
  pki,
  repoRoot,
  registerFixtureRegistry,
  sealpostAs,
  startRelay,
  type TestRelay,
} from "../helpers/relay.js";

/**
 * Every key-using command with IC cards on SoftHSM2 tokens (made by scripts/make-token.sh's module in the test's
 * temp folder): local seal/open/sign/verify, `token list`, and the round trip login/send/receive/reply/result with
 * soc-chen's RSA card, tax-wang's RSA card and tax-chiu's EC (P-384) card; wrong PIN, module missing, token absent.
 */

const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
let relay: TestRelay;
let conf: string;

/** Runs the CLI as `id` with their card: config keystore = pkcs11:token=<id>, pkcs11Module = SoftHSM. */
const asCard = (id: string, args: string[], opts: { pin?: string; config?: Record<string, unknown> } = {}) =>
  sealpostAs(relay, id, args, {
    ...opts,
    config: { keystore: `pkcs11:token=${id}`, pkcs11Module: MODULE, ...opts.config },
    env: { SOFTHSM2_CONF: conf },
  });

beforeAll(async () => {
  relay = await startRelay("sealpost-cli-token-");
  const { makeTokens } = await import(join(repoRoot, "scripts/lib/make-token.mjs"));
  conf = makeTokens(join(relay.work, "cards"), ["soc-chen", "tax-wang", "tax-chiu"]).conf;
  await registerFixtureRegistry(relay.server.url);
  // tax-chiu: an EC staff member of KHH-TAX (ECDSA P-384 signing, ECDH P-384 encryption)
  const admin = await clientAs(relay.server.url, "ops-wu");
  const p = M.people["tax-chiu"];
  await admin.call("addStaff", { body: { agency: p.agency, name: p.name, email: p.email } });
  for (const purpose of ["sign", "encrypt"]) {
    await admin.call("addCertificate", { body: { staff: p.email, pem: readFileSync(pki(p[purpose].cert), "utf8") } });
  }
  writeFileSync(join(relay.work, "batch.csv"), "id,name\n1,王小明\n".repeat(5000));
});
afterAll(async () => {
  await relay?.close();
});

describe("local commands with a card", () => {
  it("token list shows the tokens and certificates without a PIN", async () => {
    const r = await asCard("tax-wang", ["--json", "token", "list"], { pin: "" });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const t = j.slots.find((s: { token?: { label: string } }) => s.token?.label === "tax-wang").token;
    expect(t.loginRequired).toBe(true);
    expect(
      t.objects
        .filter((o: { class: string }) => o.class === "certificate")
        .map((o: { label: string }) => o.label)
        .sort(),
    ).toEqual(["encrypt", "gca", "sign"]);
    const shown = await asCard("tax-wang", ["--json", "cert", "show", `pkcs11:token=tax-wang?module-path=${MODULE}`]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).certificates.map((c: { commonName: string }) => c.commonName)).toEqual(
      expect.arrayContaining(["王建民", "測試用 政府憑證管理中心 GCA (test)"]),
    );
    const human = await asCard("tax-wang", ["token", "list", "--module", MODULE]);
    expect(human.stdout).toContain('Token "tax-chiu"');
    expect(human.stdout).toMatch(/certificate "sign" id 01: 王建民/);
  });

  it("seal (card signs), open (RSA card and EC card), sign and verify", async () => {
    const w = relay.work;
    const seal = await asCard("soc-chen", [
      "--json",
      "seal",
      join(w, "batch.csv"),
      "--to",
      pki(M.people["tax-wang"].encrypt.cert),
      "--to",
      pki(M.people["tax-chiu"].encrypt.cert),
      "-o",
      join(w, "local.p7m"),
    ]);
    expect(seal.code, seal.stderr).toBe(0);
    expect(JSON.parse(seal.stdout).keyTransport).toBe("rsaes-oaep-sha256, ecdh-sha384kdf-aes256-wrap");
    for (const who of ["tax-wang", "tax-chiu"]) {
      const out = join(w, `local-${who}.csv`);
      const r = await asCard(who, ["--json", "open", join(w, "local.p7m"), "-o", out]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(out).equals(readFileSync(join(w, "batch.csv")))).toBe(true);
      expect(JSON.parse(r.stdout).signer.commonName).toBe("陳怡君");
    }
    const sig = await asCard("tax-chiu", ["--json", "sign", join(w, "batch.csv"), "-o", join(w, "b.p7s")]);
    expect(sig.code, sig.stderr).toBe(0);
    expect(JSON.parse(sig.stdout).signatureAlgorithm).toBe("ecdsa-with-sha256");
    const ver = await asCard("tax-wang", ["verify", join(w, "b.p7s"), "-o", join(w, "b.out")]);
    expect(ver.code, ver.stderr).toBe(0);
  });

  it("wrong PIN: exit 5, the token's remaining-tries report shown, the PIN never printed", async () => {
    const r = await asCard("tax-wang", ["sign", join(relay.work, "batch.csv"), "-o", join(relay.work, "x.p7s")], {
      pin: "WRONG-pin-0000",
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/Wrong PIN for the token tax-wang/);
    expect(r.stderr).toMatch(/few tries/);
    expect(r.stderr).toMatch(/SEALPOST_PIN/);
    expect(r.stderr + r.stdout).not.toContain("WRONG-pin-0000");
  });

  it("module missing and token absent: exit 5 with what to do", async () => {
    const missing = await asCard("tax-wang", ["open", join(relay.work, "local.p7m"), "-o", join(relay.work, "m.csv")], {
      config: { pkcs11Module: "/nonexistent/libcard.so" },
    });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/PKCS#11 module \/nonexistent\/libcard.so does not exist/);
    const absent = await asCard("tax-wang", ["open", join(relay.work, "local.p7m"), "-o", join(relay.work, "a.csv")], {
      config: { keystore: "pkcs11:token=no-such-card" },
    });
    expect(absent.code).toBe(5);
    expect(absent.stderr).toMatch(/No token matching pkcs11:token=no-such-card/);
    expect(absent.stderr).toMatch(/tax-wang/);
    // a PIN in the URI is refused before anything is opened
    const pinInUri = await asCard(
      "tax-wang",
      ["sign", join(relay.work, "batch.csv"), "-o", join(relay.work, "p.p7s")],
      {
        config: { keystore: "pkcs11:token=tax-wang;pin-value=1234" },
      },
    );
    expect(pinInUri.code).not.toBe(0);
    expect(pinInUri.stderr).toMatch(/never takes a PIN from an argument/);
  });
});

describe("the round trip with cards: login, send, receive, reply, result", () => {
  it("runs end to end, each key operation on a card", async () => {
    for (const id of ["soc-chen", "tax-wang", "tax-chiu"]) {
      const r = await asCard(id, ["login"]);
      expect(r.code, r.stderr).toBe(0);
    }
    const send = await asCard("soc-chen", [
      "--json",
      "send",
      join(relay.work, "batch.csv"),
      "--to-agency",
      "KHH-TAX",
      "--category",
      "C",
      "--records",
      "5000",
      "--upload-no",
      "T-1",
    ]);
    expect(send.code, send.stderr).toBe(0);
    const caseId = JSON.parse(send.stdout).case.id as string;
    const sealedTo = JSON.parse(send.stdout).recipients.map((r: { email: string }) => r.email);
    expect(sealedTo).toEqual(expect.arrayContaining([M.people["tax-chiu"].email, M.people["tax-wang"].email]));
    for (const id of ["tax-chiu", "tax-wang"]) {
      const r = await asCard(id, ["--json", "receive", caseId, "-o", join(relay.work, `in-${id}`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).receiptId).toBeGreaterThan(0);
    }
    writeFileSync(join(relay.work, "result.csv"), "id,match\n1,yes\n");
    const reply = await asCard("tax-wang", ["reply", caseId, join(relay.work, "result.csv")]);
    expect(reply.code, reply.stderr).toBe(0);
    const result = await asCard("soc-chen", ["--json", "result", caseId, "-o", join(relay.work, "back")]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(JSON.parse(result.stdout).file, "utf8")).toBe("id,match\n1,yes\n");
  });

  it("login --approve CODE with a card (RSA and EC keys, signed on the token) logs in the web console's code", async () => {
    for (const id of ["tax-wang", "tax-chiu"]) {
      const code = await (await fetch(`${relay.server.url}/v1/console/codes`, { method: "POST" })).json();
      const r = await asCard(id, ["--json", "login", "--approve", code.code]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).approved).toBe(code.code);
      const poll = await fetch(`${relay.server.url}/v1/console/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pollToken: code.pollToken }),
      });
      expect(poll.status).toBe(200);
      expect((await poll.json()).actor.email).toBe(M.people[id].email);
      expect(poll.headers.get("set-cookie")).toMatch(/^sealpost=.*HttpOnly; SameSite=Strict$/);
    }
  });

  it("login with a wrong PIN: exit 5, no session", async () => {
    const r = await asCard("tax-chiu", ["login"], { pin: "nope-0000" });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/Wrong PIN for the token tax-chiu/);
  });
});

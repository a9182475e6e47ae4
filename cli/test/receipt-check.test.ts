import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TrustPolicy } from "@sealpost/pki";
import { canonicalJson, type ReceiptDto, type ReceiptStatement } from "@sealpost/protocol";
import { beforeAll, describe, expect, test } from "vitest";
import { emptyConfig } from "../src/config.js";
import { checkReceipt } from "../src/remote/receipts.js";
import { buildTrust } from "../src/trust.js";

/**
 * `sealpost receipt ID` must not believe the server: a receipt only counts when its certificate validates with the
 * user's own roots, it names this case and this case's file hash, and the signature verifies. Real fixture PKI
 * (root, GCA, CRLs) and keys; the self-signed "impostor" copies soc-chen's name and e-mail.
 */

const PKI = join(resolve(import.meta.dirname, "../.."), "fixtures/pki");
const M = JSON.parse(readFileSync(join(PKI, "manifest.json"), "utf8"));
const pki = (p: string) => join(PKI, p);

const CASE = "C20261130-0badcafe";
const PAYLOAD_SHA = "a".repeat(64);
const RESULT_SHA = "b".repeat(64);
let trust: { policy: TrustPolicy; intermediates: Awaited<ReturnType<typeof buildTrust>>["intermediates"] };

beforeAll(async () => {
  const t = await buildTrust(
    {
      trust: [pki(M.root.cert)],
      intermediate: [pki(M.intermediate.cert)],
      crl: [pki(M.intermediate.crl), pki(M.root.crl)],
    },
    emptyConfig(),
  );
  trust = { policy: t.policy!, intermediates: t.intermediates };
});

function receipt(
  certFile: string,
  key: KeyObject,
  change: Partial<ReceiptStatement> = {},
  certSha256?: string,
): ReceiptDto {
  const pem = readFileSync(pki(certFile), "utf8");
  const statement: ReceiptStatement = {
    type: "sealpost-receipt",
    caseId: CASE,
    kind: "payload",
    sha256: PAYLOAD_SHA,
    time: new Date().toISOString(),
    ...change,
  };
  return {
    id: 1,
    staffId: "s1",
    staffName: "王建民",
    receivedAt: statement.time,
    certSha256: certSha256 ?? "",
    statement,
    signature: sign("sha256", Buffer.from(canonicalJson(statement)), key).toString("base64"),
    certificatePem: pem,
  };
}

const wangKey = () => createPrivateKey(readFileSync(pki(M.people["tax-wang"].sign.key)));
const expected = {
  caseId: CASE,
  sha256: { payload: PAYLOAD_SHA, result: RESULT_SHA },
  signers: { payload: { code: "KHH-TAX", name: M.agencies["KHH-TAX"].name }, result: { code: "KHH-SOC" } },
};

async function check(r: ReceiptDto, t = trust) {
  // The certificate's own SHA-256 stands in for what the server reports, unless the test set one.
  if (!r.certSha256) {
    const { parseCertificate } = await import("@sealpost/pki");
    r.certSha256 = parseCertificate(r.certificatePem).sha256;
  }
  return checkReceipt(r, expected, t);
}

describe("checkReceipt", () => {
  test("a receipt signed by a trusted signing certificate for this case and file is valid", async () => {
    const c = await check(receipt(M.people["tax-wang"].sign.cert, wangKey()));
    expect(c.problem).toBeNull();
    expect(c.signatureValid).toBe(true);
    expect(c.signer).toBe(M.people["tax-wang"].name);
  });

  test("a self-signed impostor certificate is refused even though its signature verifies", async () => {
    const imp = M.troubled.impostor;
    const c = await check(receipt(imp.cert, createPrivateKey(readFileSync(pki(imp.key)))));
    expect(c.signatureValid).toBe(false);
    expect(c.problem).toMatch(/not trusted here/);
  });

  test("a receipt for another case or another file is refused", async () => {
    const other = await check(receipt(M.people["tax-wang"].sign.cert, wangKey(), { caseId: "C20261130-00000000" }));
    expect(other.signatureValid).toBe(false);
    expect(other.problem).toMatch(/for case C20261130-00000000/);
    const wrongHash = await check(receipt(M.people["tax-wang"].sign.cert, wangKey(), { sha256: "c".repeat(64) }));
    expect(wrongHash.signatureValid).toBe(false);
    expect(wrongHash.problem).toMatch(/SHA-256/);
    const resultHash = await check(receipt(M.people["tax-wang"].sign.cert, wangKey(), { kind: "result" }));
    expect(resultHash.signatureValid).toBe(false);
  });

  test("an encryption certificate, a mismatched certSha256 or a wrong signature is refused", async () => {
    const p = M.people["tax-wang"];
    const enc = await check(receipt(p.encrypt.cert, createPrivateKey(readFileSync(pki(p.encrypt.key)))));
    expect(enc.signatureValid).toBe(false);
    expect(enc.problem).toMatch(/KEY_USAGE|not trusted/);
    const named = await check(receipt(p.sign.cert, wangKey(), {}, "0".repeat(64)));
    expect(named.problem).toMatch(/not the one the receipt names/);
    const forged = receipt(p.sign.cert, wangKey());
    forged.statement = { ...forged.statement, time: "2026-01-01T00:00:00.000Z" };
    expect((await check(forged)).problem).toMatch(/signature does not verify/);
  });

  test("the signer is validated now, not at the time the receipt claims: a backdated receipt by an expired certificate is refused", async () => {
    // Valid 2020-01-01 to 2021-12-31, of the sending agency (so a result receipt), receipt time inside that window.
    // Revocation "prefer" so that CRLs not current in 2021 cannot hide what this test is about.
    const ex = M.troubled.expired;
    const prefer = await buildTrust(
      {
        trust: [pki(M.root.cert)],
        intermediate: [pki(M.intermediate.cert)],
        crl: [pki(M.intermediate.crl), pki(M.root.crl)],
        revocation: "prefer",
      },
      emptyConfig(),
    );
    const c = await check(
      receipt(ex.cert, createPrivateKey(readFileSync(pki(ex.key))), {
        kind: "result",
        sha256: RESULT_SHA,
        time: "2021-06-01T09:00:00.000Z",
      }),
      { policy: prefer.policy!, intermediates: prefer.intermediates },
    );
    expect(c.signatureValid).toBe(false);
    expect(c.problem).toMatch(/not trusted here now \(EXPIRED\)/);
  });

  test("a receipt signed by someone outside the agency that receives the file (the relay admin's card) is refused", async () => {
    const ops = M.people["ops-wu"];
    const opsKey = createPrivateKey(readFileSync(pki(ops.sign.key)));
    const c = await check(receipt(ops.sign.cert, opsKey));
    expect(c.signatureValid).toBe(false);
    expect(c.problem).toMatch(/is not of KHH-TAX/);
    // The receiving side's own staff cannot sign for the sending side's result either, nor the sender a payload.
    const wangResult = await check(
      receipt(M.people["tax-wang"].sign.cert, wangKey(), { kind: "result", sha256: RESULT_SHA }),
    );
    expect(wangResult.problem).toMatch(/is not of KHH-SOC/);
    const chen = M.people["soc-chen"];
    const chenPayload = await check(receipt(chen.sign.cert, createPrivateKey(readFileSync(pki(chen.sign.key)))));
    expect(chenPayload.problem).toMatch(/is not of KHH-TAX/);
    const chenResult = await check(
      receipt(chen.sign.cert, createPrivateKey(readFileSync(pki(chen.sign.key))), {
        kind: "result",
        sha256: RESULT_SHA,
      }),
    );
    expect(chenResult.problem).toBeNull();
  });
});

import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealFile } from "@sealpost/cms";
import { loadKeystore, parseCertificate, pickKey } from "@sealpost/pki";
import { loadPki, type PkiManifest, sealpost } from "./helpers.js";

// The troubled fixture certificates, each refused through the CLI with its own exit code, error code and message.

let dir: string;
let pki: PkiManifest;
let trustArgs: string[];

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-troubled-"));
  await writeFile(join(dir, "batch.csv"), "姓名,金額\n測試,1\n");
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("troubled recipients (seal --to, validated for encryption before anything is written)", () => {
  it.each([
    { kind: "expired", exit: 8, code: "EXPIRED", msg: /expired/i },
    { kind: "not_yet_valid", exit: 8, code: "NOT_YET_VALID", msg: /not (yet )?valid/i },
    { kind: "revoked", exit: 8, code: "REVOKED", msg: /revoked/i },
    { kind: "on_hold", exit: 8, code: "ON_HOLD", msg: /hold/i },
    { kind: "sign_only_usage", exit: 8, code: "KEY_USAGE", msg: /key ?usage|keyEncipherment|encrypt/i },
    { kind: "rsa1024_sha1", exit: 9, code: /^WEAK_(KEY|ALGORITHM)$/, msg: /1024|SHA-?1/i },
    { kind: "impostor", exit: 8, code: "UNTRUSTED", msg: /trust/i },
  ])("$kind: exit $exit ($code)", async ({ kind, exit, code, msg }) => {
    const t = pki.troubled[kind]!;
    const r = await sealpost(
      [
        "seal",
        "batch.csv",
        "--to",
        t.cert,
        "--key",
        pki.people["soc-chen"]!.p12,
        ...trustArgs,
        "-o",
        `${kind}.p7m`,
        "--json",
      ],
      { cwd: dir, env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin } },
    );
    expect(r.code).toBe(exit);
    const j = r.json() as unknown as { ok: boolean; error: { code: string; message: string; exitCode: number } };
    expect(j.ok).toBe(false);
    expect(j.error.code).toMatch(code);
    expect(j.error.exitCode).toBe(exit);
    expect(j.error.message).toContain(t.name);
    expect(j.error.message).toMatch(msg);
    expect(r.stderr).toMatch(new RegExp(`^sealpost: error: Cannot encrypt to recipient ${t.name}`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await readdir(dir)).filter((f) => f.startsWith(kind))).toEqual([]);
  });

  it("without any trust anchor seal refuses at once (exit 2, a hint), before the keystore is opened", async () => {
    const r = await sealpost(
      [
        "seal",
        "batch.csv",
        "--to",
        pki.troubled.revoked!.cert,
        "--key",
        pki.people["soc-chen"]!.p12,
        "-o",
        "s.p7m",
        "--json",
      ],
      { cwd: dir }, // no SEALPOST_PIN: the PIN is never asked for
    );
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "USAGE", exitCode: 2 } });
    expect(r.stderr).toMatch(/^sealpost: error: seal needs a trust anchor: .*\nsealpost: hint: Pass --trust ROOT\.pem/);
    expect(r.stderr).not.toMatch(/warning/);
    expect((await readdir(dir)).filter((f) => f.startsWith("s.p7m"))).toEqual([]);
  });
});

describe("troubled signers", () => {
  it("an RSA-1024/SHA-1 keystore is refused as too weak (exit 9)", async () => {
    const t = pki.troubled.rsa1024_sha1!;
    const r = await sealpost(
      ["seal", "batch.csv", "--to", pki.people["tax-wang"]!.encrypt.cert, "--key", t.p12, ...trustArgs, "-o", "w.p7m"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: t.pin },
      },
    );
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/\[WEAK_(KEY|ALGORITHM)\]/);
  });

  it("an encryption-only keystore cannot sign (exit 8)", async () => {
    const t = pki.troubled.encrypt_only_usage!;
    const r = await sealpost(
      [
        "seal",
        "batch.csv",
        "--to",
        pki.people["tax-wang"]!.encrypt.cert,
        "--key",
        t.p12,
        ...trustArgs,
        "-o",
        "e.p7m",
        "--json",
      ],
      {
        cwd: dir,
        env: { SEALPOST_PIN: t.pin },
      },
    );
    expect(r.code).toBe(8);
    expect((r.json() as unknown as { error: { code: string } }).error.code).toMatch(/^(NO_KEY|KEY_USAGE)$/);
  });

  it("a file sealed by the self-signed impostor (same name as 陳怡君) is refused on open (exit 8), nothing written", async () => {
    const t = pki.troubled.impostor!;
    // seal refuses to sign with the impostor's untrusted certificate, so the file is made with the library (the
    // attacker's own tool would not check anything either).
    const impostor = pickKey(await loadKeystore(t.p12, { pin: t.pin }), "sign");
    await writeFile(join(dir, "impostor-in.csv"), "姓名,金額\n測試,1\n");
    await sealFile(join(dir, "impostor-in.csv"), join(dir, "impostor.p7m"), {
      recipients: [parseCertificate(await readFile(pki.people["tax-wang"]!.encrypt.cert, "utf8"))],
      signer: impostor,
    });
    const r = await sealpost(
      ["open", "impostor.p7m", "--key", pki.people["tax-wang"]!.p12, ...trustArgs, "-o", "impostor.csv", "--json"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
      },
    );
    expect(r.code).toBe(8);
    const j = r.json() as unknown as { error: { code: string; message: string } };
    expect(j.error.code).toBe("UNTRUSTED_SIGNER");
    expect(j.error.message).toContain("陳怡君");
    expect((await readdir(dir)).filter((f) => f.startsWith("impostor.csv"))).toEqual([]);
  });
});

describe("seal and sign refuse your own signing certificate when readers would refuse it", () => {
  it.each([
    { kind: "expired", code: "EXPIRED" },
    { kind: "not_yet_valid", code: "NOT_YET_VALID" },
    { kind: "revoked", code: "REVOKED" },
    { kind: "on_hold", code: "ON_HOLD" },
    { kind: "impostor", code: "UNTRUSTED" },
  ])("$kind: seal and sign exit 8 ($code), nothing written", async ({ kind, code }) => {
    const t = pki.troubled[kind]!;
    const env = { SEALPOST_PIN: t.pin };
    const to = ["--to", pki.people["tax-wang"]!.encrypt.cert];
    for (const [cmd, out, extra] of [
      ["seal", `own-${kind}.p7m`, to],
      ["sign", `own-${kind}.p7s`, []],
    ] as const) {
      const r = await sealpost([cmd, "batch.csv", ...extra, "--key", t.p12, ...trustArgs, "-o", out, "--json"], {
        cwd: dir,
        env,
      });
      expect([cmd, r.code]).toEqual([cmd, 8]);
      const j = r.json() as unknown as { error: { code: string; message: string } };
      expect(j.error.code).toBe(code);
      expect(j.error.message).toMatch(/^Your signing certificate \(.*\) cannot be used now: /);
      expect((await readdir(dir)).filter((f) => f.startsWith(`own-${kind}`))).toEqual([]);
    }
  });
});

describe("cert check", () => {
  it("a good certificate: path to the root, checks, revocation source and its time", async () => {
    const r = await sealpost(
      [
        "cert",
        "check",
        pki.people["tax-lee"]!.encrypt.cert,
        "--intermediate",
        pki.intermediate.cert,
        ...trustArgs,
        "--usage",
        "encrypt",
        "--json",
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({
      ok: true,
      valid: true,
      usage: "encrypt",
      certificate: { commonName: "李美玲" },
      revocation: { source: "crl" },
    });
    expect((j.path as Array<{ commonName: string }>).map((c) => c.commonName)).toEqual([
      "李美玲",
      expect.stringContaining("GCA"),
      expect.stringContaining("GRCA"),
    ]);
    expect((j.revocation as { thisUpdate: string }).thisUpdate).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("a signing certificate checked for encryption: KEY_USAGE (exit 8); the expired one: EXPIRED; --at moves the clock", async () => {
    const ku = await sealpost(
      [
        "cert",
        "check",
        pki.people["tax-lee"]!.sign.cert,
        "--intermediate",
        pki.intermediate.cert,
        ...trustArgs,
        "--usage",
        "encrypt",
      ],
      { cwd: dir },
    );
    expect(ku.code).toBe(8);
    expect(ku.stderr).toContain("[KEY_USAGE]");
    const expired = await sealpost(
      ["cert", "check", pki.troubled.expired!.cert, "--intermediate", pki.intermediate.cert, ...trustArgs],
      {
        cwd: dir,
      },
    );
    expect(expired.code).toBe(8);
    expect(expired.stderr).toMatch(/^sealpost: error: .*周文彬.*\[EXPIRED\]/);
    const later = await sealpost(
      [
        "cert",
        "check",
        pki.people["tax-lee"]!.sign.cert,
        "--intermediate",
        pki.intermediate.cert,
        "--trust",
        pki.root.cert,
        "--revocation",
        "off",
        "--at",
        "2030-06-01T00:00:00Z",
        "--usage",
        "sign",
      ],
      { cwd: dir },
    );
    expect(later.stderr).toBe("");
    expect(later.code).toBe(0);
    expect(later.stdout.toString()).toMatch(/^OK: 李美玲 is trusted for signing at 2030-06-01T00:00:00Z/);
  });
});

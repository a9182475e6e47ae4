import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPki, type PkiManifest, runTool, sealpost } from "./helpers.js";

// Interop through the CLI with the real openssl CLI as the peer, both ways.

let dir: string;
let pki: PkiManifest;
let data: Buffer;
let trustArgs: string[];

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-interop-"));
  data = Buffer.from(
    `${Array.from({ length: 3000 }, (_, i) => `${i},測試資料,${"x".repeat(i % 50)}`).join("\n")}\n`,
    "utf8",
  );
  await writeFile(join(dir, "batch.csv"), data);
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openssl(args: string[]) {
  const r = await runTool("openssl", args, { cwd: dir });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r;
}

describe("sealpost -> openssl", () => {
  it.each([
    { cipher: "aes-256-gcm", padding: "oaep" },
    { cipher: "aes-256-cbc", padding: "pkcs1" },
  ])(
    "seal --cipher $cipher --rsa-padding $padding, then openssl cms -decrypt | openssl cms -verify",
    async ({ cipher, padding }) => {
      const out = `s-${cipher}.p7m`;
      const r = await sealpost(
        [
          "seal",
          "batch.csv",
          "--to",
          pki.people["tax-wang"]!.encrypt.cert,
          "--key",
          pki.people["soc-chen"]!.p12,
          "--cipher",
          cipher,
          "--rsa-padding",
          padding,
          ...trustArgs,
          "-o",
          out,
          "--json",
        ],
        { cwd: dir, env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin } },
      );
      expect(r.code).toBe(0);
      expect(r.json()).toMatchObject({ ok: true, cipher });
      const wang = pki.people["tax-wang"]!;
      await openssl([
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        out,
        "-recip",
        wang.encrypt.cert,
        "-inkey",
        wang.encrypt.key,
        "-out",
        `${out}.inner`,
      ]);
      await openssl([
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        `${out}.inner`,
        "-CAfile",
        pki.root.cert,
        "-out",
        `${out}.content`,
      ]);
      expect((await readFile(join(dir, `${out}.content`))).equals(data)).toBe(true);
    },
  );
});

describe("openssl -> sealpost", () => {
  it.each([
    {
      name: "AES-256-GCM + RSA-OAEP-SHA256",
      encrypt: [
        "-aes-256-gcm",
        "-recip",
        "WANG",
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-keyopt",
        "rsa_oaep_md:sha256",
        "-keyopt",
        "rsa_mgf1_md:sha256",
      ],
      cipher: "aes-256-gcm",
    },
    { name: "AES-256-CBC + RSA PKCS#1 v1.5", encrypt: ["-aes-256-cbc", "-recip", "WANG"], cipher: "aes-256-cbc" },
  ])("openssl cms -sign | openssl cms -encrypt ($name), then sealpost open", async ({ name, encrypt, cipher }) => {
    const tag = createHash("sha1").update(name).digest("hex").slice(0, 8);
    const chen = pki.people["soc-chen"]!;
    const wang = pki.people["tax-wang"]!;
    await openssl([
      "cms",
      "-sign",
      "-binary",
      "-nodetach",
      "-md",
      "sha256",
      "-in",
      "batch.csv",
      "-signer",
      chen.sign.cert,
      "-inkey",
      chen.sign.key,
      "-certfile",
      pki.intermediate.cert,
      "-outform",
      "DER",
      "-out",
      `${tag}.signed`,
    ]);
    await openssl([
      "cms",
      "-encrypt",
      "-binary",
      "-in",
      `${tag}.signed`,
      "-outform",
      "DER",
      "-out",
      `${tag}.csv.p7m`,
      ...encrypt.map((a) => (a === "WANG" ? wang.encrypt.cert : a)),
    ]);
    const r = await sealpost(["open", `${tag}.csv.p7m`, "--key", wang.p12, ...trustArgs, "--json"], {
      cwd: dir,
      env: { SEALPOST_PIN: wang.pin },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      ok: true,
      signed: true,
      cipher,
      signer: { commonName: "陳怡君" },
      recipient: { commonName: "王建民" },
    });
    expect((await readFile(join(dir, `${tag}.csv`))).equals(data)).toBe(true);
  });
});

describe("unsigned content", () => {
  const encryptPlain = (out: string, cipher: string) =>
    openssl([
      "cms",
      "-encrypt",
      "-binary",
      "-in",
      "batch.csv",
      "-outform",
      "DER",
      "-out",
      out,
      cipher,
      "-recip",
      pki.people["tax-wang"]!.encrypt.cert,
    ]);

  it("openssl cms -encrypt -aes-256-gcm without a signature: refused (exit 7), accepted with --allow-unsigned and a warning", async () => {
    const wang = pki.people["tax-wang"]!;
    await encryptPlain("plain.csv.p7m", "-aes-256-gcm");
    const env = { SEALPOST_PIN: wang.pin };
    const refused = await sealpost(["open", "plain.csv.p7m", "--key", wang.p12, ...trustArgs, "--json"], {
      cwd: dir,
      env,
    });
    expect(refused.code).toBe(7);
    expect(refused.json()).toMatchObject({ ok: false, error: { code: "UNSIGNED_CONTENT", exitCode: 7 } });
    const allowed = await sealpost(
      ["open", "plain.csv.p7m", "--key", wang.p12, ...trustArgs, "--allow-unsigned", "--json"],
      { cwd: dir, env },
    );
    expect(allowed.code).toBe(0);
    const j = allowed.json();
    expect(j).toMatchObject({ ok: true, signed: false, signer: null, trust: null });
    expect((j.warnings as string[]).some((w) => /no signature/.test(w))).toBe(true);
    expect((await readFile(join(dir, "plain.csv"))).equals(data)).toBe(true);
  });

  it("openssl cms -encrypt -aes-256-cbc without a signature: the integrity failure (exit 6) even with --allow-unsigned", async () => {
    // Nothing in a CBC envelope shows whether unsigned content was altered; opening it whenever the padding checks
    // out would make success itself a padding oracle.
    const wang = pki.people["tax-wang"]!;
    await encryptPlain("plain-cbc.csv.p7m", "-aes-256-cbc");
    for (const extra of [[], ["--allow-unsigned"]]) {
      const r = await sealpost(["open", "plain-cbc.csv.p7m", "--key", wang.p12, ...trustArgs, ...extra, "--json"], {
        cwd: dir,
        env: { SEALPOST_PIN: wang.pin },
      });
      expect(r.code).toBe(6);
      expect(r.json()).toMatchObject({ ok: false, error: { code: "TAMPERED", exitCode: 6 } });
      expect(r.stderr).toMatch(/in a CBC envelope\) its content is not signed/);
      await expect(readFile(join(dir, "plain-cbc.csv"))).rejects.toThrow();
    }
  });
});

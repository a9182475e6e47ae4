import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPki, type PkiManifest, sealpost } from "./helpers.js";

// End to end through the built binary: seal -> open with --json, and every way opening must fail.

let dir: string;
let pki: PkiManifest;
let data: Buffer;
let sealed: string;
let trustArgs: string[];
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-e2e-"));
  // A small fictional batch with Chinese text, a few hundred KiB so several chunks stream through.
  const rows = ["姓名,身分證字號,戶號"];
  for (let i = 0; i < 5000; i++) rows.push(`測試人員${i},A1${String(i).padStart(8, "0")},H${i % 97}`);
  data = Buffer.from(`${rows.join("\n")}\n`, "utf8");
  await writeFile(join(dir, "batch.csv"), data);
  await writeFile(join(dir, "wang.pin"), `${pki.people["tax-wang"]!.pin}\n`, { mode: 0o600 });
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
  const r = await sealpost(
    [
      "seal",
      "batch.csv",
      "--to",
      pki.people["tax-wang"]!.encrypt.cert,
      "--to",
      pki.people["tax-lee"]!.encrypt.cert,
      "--key",
      pki.people["soc-chen"]!.p12,
      "--case-id",
      "C-2026-0042",
      "--records",
      "5000",
      "--upload-no",
      "U-7",
      "--sender-agency",
      "KHH-SOC",
      "--receiving-agency",
      "KHH-TAX",
      ...trustArgs,
      "--json",
    ],
    { cwd: dir, env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin } },
  );
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  sealed = join(dir, "batch.csv.p7m");
  const j = r.json();
  expect(j).toMatchObject({
    ok: true,
    command: "seal",
    input: "batch.csv",
    output: "batch.csv.p7m",
    cipher: "aes-256-gcm",
    contentBytes: data.length,
    contentSha256: sha256(data),
    recipientValidation: "trust-path",
    signer: { commonName: "陳怡君", agency: "高雄市政府社會局 / KHH-SOC" },
    manifest: {
      caseId: "C-2026-0042",
      fileName: "batch.csv",
      byteSize: data.length,
      recordCount: 5000,
      uploadNo: "U-7",
    },
    warnings: [],
  });
  expect((j.recipients as Array<{ commonName: string }>).map((x) => x.commonName)).toEqual(["王建民", "李美玲"]);
  expect(j.outputSha256).toBe(sha256(await readFile(sealed)));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fileMode = async (p: string) => (await stat(p)).mode & 0o777;

describe("seal", () => {
  it("writes the sealed file with mode 0600", async () => {
    expect(await fileMode(sealed)).toBe(0o600);
  });

  it("refuses to overwrite an existing output without --force (exit 3, untouched), replaces it with --force", async () => {
    const before = await readFile(sealed);
    const args = [
      "seal",
      "batch.csv",
      "--to",
      pki.people["tax-wang"]!.encrypt.cert,
      "--key",
      pki.people["soc-chen"]!.p12,
      ...trustArgs,
    ];
    const env = { SEALPOST_PIN: pki.people["soc-chen"]!.pin };
    const r = await sealpost([...args, "--json"], { cwd: dir, env });
    expect(r.code).toBe(3);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "OUTPUT_EXISTS", exitCode: 3 } });
    expect(r.stderr).toMatch(/^sealpost: error: .*already exists.*\nsealpost: hint: Add --force/m);
    expect((await readFile(sealed)).equals(before)).toBe(true);
    const forced = await sealpost([...args, "-o", "copy.p7m"], { cwd: dir, env });
    expect(forced.code).toBe(0);
    expect(forced.stdout.toString()).toMatch(/Recipients \(1\):\n\s+王建民/);
    expect(forced.stderr).toBe("");
    await writeFile(join(dir, "copy.p7m"), "old");
    const again = await sealpost([...args, "-o", "copy.p7m", "--force", "--quiet"], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toBe("");
    expect((await readFile(join(dir, "copy.p7m"))).length).toBeGreaterThan(data.length);
    expect(await fileMode(join(dir, "copy.p7m"))).toBe(0o600);
  });
});

describe("open", () => {
  it("round trip with --json and --pin-file: content, signer, manifest, trust path and revocation source", async () => {
    const r = await sealpost(
      [
        "open",
        "batch.csv.p7m",
        "--key",
        pki.people["tax-wang"]!.p12,
        "--pin-file",
        "wang.pin",
        ...trustArgs,
        "-o",
        "wang.csv",
        "--json",
      ],
      { cwd: dir },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({
      ok: true,
      command: "open",
      output: "wang.csv",
      signed: true,
      signer: { commonName: "陳怡君", agency: "高雄市政府社會局 / KHH-SOC" },
      manifest: { caseId: "C-2026-0042", senderAgency: "KHH-SOC", receivingAgency: "KHH-TAX", recordCount: 5000 },
      recipient: { commonName: "王建民" },
      contentBytes: data.length,
      contentSha256: sha256(data),
      nesting: "id-data",
      trust: { revocation: { source: "crl" } },
    });
    expect((j.trust as { path: unknown[] }).path).toHaveLength(3);
    expect(j.checks).toEqual(expect.arrayContaining(["gcm-tag", "signature", "trust"]));
    expect(typeof j.signingTime).toBe("string");
    expect((await readFile(join(dir, "wang.csv"))).equals(data)).toBe(true);
    expect(await fileMode(join(dir, "wang.csv"))).toBe(0o600);
  });

  it("default output is FILE without .p7m; the human report shows BMPString names correctly", async () => {
    await writeFile(join(dir, "lee-copy.csv.p7m"), await readFile(sealed));
    const r = await sealpost(["open", "lee-copy.csv.p7m", "--key", pki.people["tax-lee"]!.p12, ...trustArgs], {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["tax-lee"]!.pin },
    });
    expect(r.code).toBe(0);
    const text = r.stdout.toString("utf8");
    expect(text).toContain("Opened lee-copy.csv.p7m -> lee-copy.csv");
    expect(text).toMatch(/Signer:\s+陳怡君/);
    expect(text).toMatch(/Agency:\s+高雄市政府社會局 \/ KHH-SOC/);
    expect(text).toMatch(/Recipient:\s+李美玲/);
    expect(text).toMatch(/Revocation: crl/);
    expect((await readFile(join(dir, "lee-copy.csv"))).equals(data)).toBe(true);
  });

  it("existing output without --force: exit 3 and the file is untouched", async () => {
    await writeFile(join(dir, "keep.csv"), "do not touch");
    const r = await sealpost(
      ["open", "batch.csv.p7m", "--key", pki.people["tax-wang"]!.p12, ...trustArgs, "-o", "keep.csv"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("[OUTPUT_EXISTS]");
    expect(await readFile(join(dir, "keep.csv"), "utf8")).toBe("do not touch");
  });

  it("not a recipient: exit 4, nothing written", async () => {
    const r = await sealpost(
      ["open", "batch.csv.p7m", "--key", pki.people["soc-huang"]!.p12, ...trustArgs, "-o", "huang.csv", "--json"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: pki.people["soc-huang"]!.pin },
      },
    );
    expect(r.code).toBe(4);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "NOT_A_RECIPIENT", exitCode: 4 } });
    expect(r.stderr).toMatch(/^sealpost: error: .*\[NOT_A_RECIPIENT\]/);
    await expect(stat(join(dir, "huang.csv"))).rejects.toThrow();
  });

  it("wrong PIN: exit 5, says so, no stack trace", async () => {
    const r = await sealpost(
      ["open", "batch.csv.p7m", "--key", pki.people["tax-wang"]!.p12, ...trustArgs, "-o", "x.csv"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: "not-the-pin" },
      },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /^sealpost: error: Wrong PIN for .*tax-wang\.p12.*\[BAD_PIN\]\nsealpost: hint: Check the SEALPOST_PIN/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain("not-the-pin");
  });

  it("no PIN source and no terminal: exit 5 with a hint; --pin on the command line: exit 2", async () => {
    const r = await sealpost(
      ["open", "batch.csv.p7m", "--key", pki.people["tax-wang"]!.p12, ...trustArgs, "-o", "y.csv"],
      { cwd: dir },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("[PIN_REQUIRED]");
    expect(r.stderr).toMatch(/hint: Set the SEALPOST_PIN environment variable, or pass --pin-file/);
    const p = await sealpost(["open", "batch.csv.p7m", "--pin", "1234", "--key", pki.people["tax-wang"]!.p12], {
      cwd: dir,
    });
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/There is no --pin option.*\nsealpost: hint: .*SEALPOST_PIN.*--pin-file/);
    expect(p.stderr).not.toContain("1234");
  });

  it("tampered file: exit 6, no output and no temporary file left", async () => {
    const bytes = Buffer.from(await readFile(sealed));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(join(dir, "tampered.csv.p7m"), bytes);
    const before = await readdir(dir);
    const r = await sealpost(
      ["open", "tampered.csv.p7m", "--key", pki.people["tax-wang"]!.p12, ...trustArgs, "--json"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
      },
    );
    expect(r.code).toBe(6);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "TAMPERED", exitCode: 6 } });
    expect((await readdir(dir)).sort()).toEqual(before.sort());
  });

  it("signer not trusted (--trust of another root): exit 8", async () => {
    const r = await sealpost(
      [
        "open",
        "batch.csv.p7m",
        "--key",
        pki.people["tax-wang"]!.p12,
        "--trust",
        pki.troubled.impostor!.cert,
        "-o",
        "u.csv",
        "--json",
      ],
      {
        cwd: dir,
        env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
      },
    );
    expect(r.code).toBe(8);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "UNTRUSTED_SIGNER", exitCode: 8 } });
    await expect(stat(join(dir, "u.csv"))).rejects.toThrow();
  });

  it("revocation is required by default (exit 8 without CRLs); --revocation prefer opens with a warning", async () => {
    const env = { SEALPOST_PIN: pki.people["tax-wang"]!.pin };
    const base = ["open", "batch.csv.p7m", "--key", pki.people["tax-wang"]!.p12, "--trust", pki.root.cert];
    const strict = await sealpost([...base, "-o", "strict.csv", "--json"], { cwd: dir, env });
    expect(strict.code).toBe(8);
    expect(strict.json()).toMatchObject({
      ok: false,
      error: { exitCode: 8, message: expect.stringMatching(/revocation/i) },
    });
    await expect(stat(join(dir, "strict.csv"))).rejects.toThrow();
    const lenient = await sealpost([...base, "--revocation", "prefer", "-o", "lenient.csv", "--json"], {
      cwd: dir,
      env,
    });
    expect(lenient.code).toBe(0);
    const j = lenient.json();
    expect((j.warnings as string[]).some((w) => /revocation/i.test(w))).toBe(true);
    expect(lenient.stderr).toMatch(/^sealpost: warning: .*revocation/im);
    expect((await readFile(join(dir, "lenient.csv"))).equals(data)).toBe(true);
  });

  it("refuses an ambiguous default output name (exit 2)", async () => {
    await writeFile(join(dir, "noext.bin"), await readFile(sealed));
    const r = await sealpost(["open", "noext.bin", "--key", pki.people["tax-wang"]!.p12, ...trustArgs], {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not end in \.p7m.*\nsealpost: hint: Give the output file with -o/);
  });
});

describe("stdin and stdout", () => {
  it("seal - -o - then open - -o - (defaults from a config file) returns the content", async () => {
    const sealedOut = await sealpost(
      [
        "seal",
        "-",
        "--to",
        pki.people["tax-wang"]!.encrypt.cert,
        "--key",
        pki.people["soc-chen"]!.p12,
        ...trustArgs,
        "-o",
        "-",
        "--file-name",
        "piped.csv",
      ],
      { cwd: dir, env: { SEALPOST_PIN: pki.people["soc-chen"]!.pin }, input: data },
    );
    expect(sealedOut.code).toBe(0);
    expect(sealedOut.stderr).toMatch(/Sealed stdin -> stdout/);
    expect(sealedOut.stdout.subarray(0, 1)[0]).toBe(0x30);
    // Config: trust anchor, a CRL folder and the default keystore; relative paths are relative to the config file.
    await mkdir(join(dir, "conf", "crls"), { recursive: true });
    await copyFile(pki.intermediate.crl, join(dir, "conf", "crls", "gca.crl.pem"));
    await copyFile(pki.root.crl, join(dir, "conf", "crls", "grca.crl.pem"));
    const configPath = join(dir, "conf", "sealpost.json");
    await writeFile(
      configPath,
      JSON.stringify({ trust: [pki.root.cert], crlDir: "crls", keystore: pki.people["tax-wang"]!.p12 }),
    );
    const opened = await sealpost(["open", "-", "-o", "-"], {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin, SEALPOST_CONFIG: configPath },
      input: sealedOut.stdout,
    });
    expect(opened.code).toBe(0);
    expect(opened.stdout.equals(data)).toBe(true);
    expect(opened.stderr).toMatch(/Opened stdin -> stdout/);
    expect(opened.stderr).toMatch(/File name:\s+piped\.csv/);
    expect(opened.stderr).toMatch(/Revocation: crl/);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("open -o - of a tampered stream writes nothing to stdout", async () => {
    const bytes = Buffer.from(await readFile(sealed));
    bytes[bytes.length - 40]! ^= 0x80;
    const r = await sealpost(["open", "-", "-o", "-", "--key", pki.people["tax-wang"]!.p12, ...trustArgs], {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["tax-wang"]!.pin },
      input: bytes,
    });
    expect(r.code).toBe(6);
    expect(r.stdout.length).toBe(0);
  });
});

describe("inspect and cert show", () => {
  it("inspect --json lists the recipients by issuer and serial, without a key", async () => {
    const r = await sealpost(["inspect", "batch.csv.p7m", "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({
      ok: true,
      command: "inspect",
      contentType: "authEnvelopedData",
      cipher: "aes-256-gcm",
      signers: [],
    });
    const show = await sealpost(
      ["cert", "show", pki.people["tax-wang"]!.encrypt.cert, pki.people["tax-lee"]!.encrypt.cert, "--json"],
      { cwd: dir },
    );
    // cert show takes one file: the extra argument is a usage error.
    expect(show.code).toBe(2);
    const recips = j.recipients as Array<{ type: string; serialHex: string; issuer: string }>;
    expect(recips).toHaveLength(2);
    expect(recips.every((x) => x.type === "ktri" && /GCA/.test(x.issuer))).toBe(true);
  });

  it("cert show of a BMPString certificate and of a keystore", async () => {
    const c = await sealpost(["cert", "show", pki.people["tax-lee"]!.sign.cert, "--json"], { cwd: dir });
    expect(c.code).toBe(0);
    const cert = (c.json().certificates as Array<Record<string, unknown>>)[0]!;
    expect(cert).toMatchObject({
      commonName: "李美玲",
      agency: `${pki.agencies["KHH-TAX"]!.name} / KHH-TAX`,
      keyUsage: ["digitalSignature", "nonRepudiation"],
      keyBits: 2048,
      signatureAlgorithm: "sha256WithRSAEncryption",
      hasPrivateKey: false,
    });
    expect(cert.sha256).toMatch(/^[0-9a-f]{64}$/);
    const ks = await sealpost(["cert", "show", pki.people["tax-lee"]!.p12], {
      cwd: dir,
      env: { SEALPOST_PIN: pki.people["tax-lee"]!.pin },
    });
    expect(ks.code).toBe(0);
    const text = ks.stdout.toString("utf8");
    expect(text).toMatch(/keystore, \d certificate\(s\)/);
    expect(text.match(/\(with private key\)/g)).toHaveLength(2);
    expect(text).toMatch(/Name:\s+李美玲/);
    expect(text).toMatch(/Key usage:\s+keyEncipherment, dataEncipherment/);
  });
});

import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPrivateKey } from "node:crypto";
import { EnvelopeWriter, SignedDataWriter } from "@sealpost/cms";
import { type KeyEntry, parseCertificate } from "@sealpost/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueTestCertificate } from "../../tests/helpers/issue-cert.js";
import { loadPki, type PkiManifest, runTool, sealpost } from "./helpers.js";

// `sealpost open` against an attacker's files: failures that tell nothing, keys used only for what they are for.

let dir: string;
let pki: PkiManifest;
let trustArgs: string[];
const data = Buffer.from("姓名,身分證字號\n測試人員,A100000001\n".repeat(3000), "utf8");

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-harden-"));
  await writeFile(join(dir, "batch.csv"), data);
  trustArgs = ["--trust", pki.root.cert, "--crl", pki.intermediate.crl, "--crl", pki.root.crl];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const wang = () => pki.people["tax-wang"]!;
const chen = () => pki.people["soc-chen"]!;

async function seal(out: string, extra: string[] = []): Promise<Buffer> {
  const r = await sealpost(
    ["seal", "batch.csv", "--to", wang().encrypt.cert, "--key", chen().p12, ...trustArgs, "-o", out, ...extra],
    { cwd: dir, env: { SEALPOST_PIN: chen().pin } },
  );
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return readFile(join(dir, out));
}

describe("open --json of altered CBC files tells nothing about the plaintext", () => {
  it("bad padding and a garbled block give byte-identical output (no reason field)", async () => {
    const sealed = await seal("cbc.p7m", ["--cipher", "aes-256-cbc"]);
    // An EnvelopedData written by sealpost ends with the last ciphertext segment and five end-of-contents pairs.
    expect(sealed.subarray(-10).equals(Buffer.alloc(10))).toBe(true);
    const lastCipherByte = sealed.length - 11;
    const variants = {
      padding: lastCipherByte, // the last block decrypts to garbage: its padding fails
      structure: Math.floor(sealed.length / 2), // a content block garbled: the padding is fine, the digest is not
    };
    const seen: string[] = [];
    for (const [name, at] of Object.entries(variants)) {
      const b = Buffer.from(sealed);
      b[at]! ^= 0x5a;
      await writeFile(join(dir, `${name}.p7m`), b);
      const r = await sealpost(
        ["open", `${name}.p7m`, "--key", wang().p12, ...trustArgs, "-o", `${name}.out`, "--json"],
        {
          cwd: dir,
          env: { SEALPOST_PIN: wang().pin },
        },
      );
      expect(r.code).toBe(6);
      const j = r.json() as { ok: boolean; error: Record<string, unknown> };
      expect(j.error).not.toHaveProperty("details");
      seen.push(JSON.stringify({ stdout: j, stderr: r.stderr }));
    }
    expect(seen[0]).toBe(seen[1]);
    expect((await readdir(dir)).filter((n) => n.endsWith(".out") || n.includes(".out."))).toEqual([]);
  });
});

describe("open uses only encryption keys", () => {
  it("a file encrypted (by openssl) to the signing certificate: exit 4 with the keystore holding both keys", async () => {
    const signed = join(dir, "signed.p7s");
    const s = await sealpost(["sign", "batch.csv", "--key", chen().p12, ...trustArgs, "-o", "signed.p7s"], {
      cwd: dir,
      env: { SEALPOST_PIN: chen().pin },
    });
    expect(s.code).toBe(0);
    const enc = await runTool("openssl", [
      "cms",
      "-encrypt",
      "-binary",
      "-aes-256-gcm",
      "-in",
      signed,
      "-outform",
      "DER",
      "-out",
      join(dir, "to-sign-key.csv.p7m"),
      "-recip",
      wang().sign.cert,
    ]);
    expect(enc.code).toBe(0);
    const r = await sealpost(["open", "to-sign-key.csv.p7m", "--key", wang().p12, ...trustArgs, "--json"], {
      cwd: dir,
      env: { SEALPOST_PIN: wang().pin },
    });
    expect(r.code).toBe(4);
    expect(r.json()).toMatchObject({ ok: false, error: { code: "NOT_A_RECIPIENT", exitCode: 4 } });
    expect(r.stderr).toMatch(/not for decryption/);
    await expect(readFile(join(dir, "to-sign-key.csv"))).rejects.toThrow();
  });
});

describe("the signer is checked now, not at the signing time it wrote", () => {
  it("a certificate valid only in February 2025 with a backdated signingTime: open and verify exit 8 (EXPIRED)", async () => {
    const issued = issueTestCertificate({
      dir,
      name: "feb-2025",
      subject: "/C=TW/O=高雄市政府社會局/OU=KHH-SOC/CN=測試二月簽章者",
      notBefore: new Date("2025-02-01T00:00:00Z"),
      notAfter: new Date("2025-02-28T23:59:59Z"),
    });
    const cert = async (f: string) => parseCertificate(await readFile(f, "utf8"));
    const signer: KeyEntry = {
      cert: await cert(issued.cert),
      privateKey: createPrivateKey(await readFile(issued.key)),
      chain: [await cert(pki.intermediate.cert), await cert(pki.root.cert)],
    };
    // The attacker's own tool: a SignedData with signingTime 2025-02-15, sealed to 王建民 (seal itself refuses).
    const inner: Buffer[] = [];
    const sw = new SignedDataWriter({ signer, signingTime: new Date("2025-02-15T09:30:00Z") }, (b) => inner.push(b));
    sw.start();
    sw.update(data);
    await sw.finish();
    await writeFile(join(dir, "feb.p7s"), Buffer.concat(inner));
    const outer: Buffer[] = [];
    const ew = new EnvelopeWriter({ recipients: [await cert(wang().encrypt.cert)] }, (b) => outer.push(b));
    ew.start();
    ew.update(Buffer.concat(inner));
    ew.finish();
    await writeFile(join(dir, "feb.csv.p7m"), Buffer.concat(outer));

    const opened = await sealpost(["open", "feb.csv.p7m", "--key", wang().p12, ...trustArgs, "--json"], {
      cwd: dir,
      env: { SEALPOST_PIN: wang().pin },
    });
    expect(opened.code).toBe(8);
    expect(opened.json()).toMatchObject({
      ok: false,
      error: { code: "UNTRUSTED_SIGNER", exitCode: 8, details: { pkiCode: "EXPIRED" } },
    });
    await expect(readFile(join(dir, "feb.csv"))).rejects.toThrow();
    const verified = await sealpost(["verify", "feb.p7s", ...trustArgs, "--json"], { cwd: dir });
    expect(verified.code).toBe(8);
    expect(verified.json()).toMatchObject({ ok: false, error: { details: { pkiCode: "EXPIRED" } } });
    // and the same person cannot seal or sign with it today
    const sealed = await sealpost(
      ["seal", "batch.csv", "--to", wang().encrypt.cert, "--key", issued.p12, ...trustArgs, "-o", "feb-new.p7m"],
      { cwd: dir, env: { SEALPOST_PIN: issued.pin } },
    );
    expect(sealed.code).toBe(8);
    expect(sealed.stderr).toMatch(/Your signing certificate .* cannot be used now: .*\[EXPIRED\]/);
  });
});

describe("open -o never replaces anything but a regular file, even with --force", () => {
  it("a FIFO, a symlink to /dev/null, a symlink to a file and a folder are refused (exit 3); a regular file is replaced", async () => {
    await seal("target.csv.p7m");
    const t = join(dir, "targets");
    await mkdir(t);
    const fifo = join(t, "pipe");
    expect((await runTool("mkfifo", [fifo])).code).toBe(0);
    await symlink("/dev/null", join(t, "devnull"));
    await writeFile(join(t, "real.csv"), "old");
    await symlink(join(t, "real.csv"), join(t, "link-to-file"));
    await mkdir(join(t, "folder"));
    const kinds: Record<string, RegExp> = {
      pipe: /named pipe/,
      devnull: /symbolic link/,
      "link-to-file": /symbolic link/,
      folder: /is a folder/,
    };
    for (const [name, said] of Object.entries(kinds)) {
      for (const force of [[], ["--force"]]) {
        const r = await sealpost(
          ["open", "target.csv.p7m", "--key", wang().p12, ...trustArgs, "-o", join(t, name), ...force, "--json"],
          { cwd: dir, env: { SEALPOST_PIN: wang().pin } },
        );
        expect([name, force, r.code]).toEqual([name, force, 3]);
        expect(r.json()).toMatchObject({ ok: false, error: { code: "OUTPUT_NOT_FILE", exitCode: 3 } });
        expect(r.stderr).toMatch(said);
      }
    }
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect((await lstat(join(t, "devnull"))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(t, "real.csv"), "utf8")).toBe("old");
    expect((await readdir(t)).sort()).toEqual(["devnull", "folder", "link-to-file", "pipe", "real.csv"]);
    expect(await readdir(join(t, "folder"))).toEqual([]);
    const ok = await sealpost(
      ["open", "target.csv.p7m", "--key", wang().p12, ...trustArgs, "-o", join(t, "real.csv"), "--force"],
      { cwd: dir, env: { SEALPOST_PIN: wang().pin } },
    );
    expect(ok.code).toBe(0);
    expect((await readFile(join(t, "real.csv"))).equals(data)).toBe(true);
  });
});

describe("forwarded files", () => {
  it("a recipient re-encrypts the signed content for a third person: exit 7 with a hint, unless --allow-forwarded", async () => {
    await seal("fwd.csv.p7m", ["--receiving-agency", "KHH-TAX", "--case-id", "C-2026-0099"]);
    // 王建民 strips the envelope and encrypts the signed content again, for 林志明 (another agency)
    const strip = await runTool("openssl", [
      "cms",
      "-decrypt",
      "-binary",
      "-inform",
      "DER",
      "-in",
      join(dir, "fwd.csv.p7m"),
      "-recip",
      wang().encrypt.cert,
      "-inkey",
      wang().encrypt.key,
      "-out",
      join(dir, "fwd.inner"),
    ]);
    expect(strip.code).toBe(0);
    const lin = pki.people["soc-lin"]!;
    const again = await runTool("openssl", [
      "cms",
      "-encrypt",
      "-binary",
      "-aes-256-gcm",
      "-in",
      join(dir, "fwd.inner"),
      "-outform",
      "DER",
      "-out",
      join(dir, "forwarded.csv.p7m"),
      "-recip",
      lin.encrypt.cert,
    ]);
    expect(again.code).toBe(0);
    const env = { SEALPOST_PIN: lin.pin };
    const refused = await sealpost(["open", "forwarded.csv.p7m", "--key", lin.p12, ...trustArgs, "--json"], {
      cwd: dir,
      env,
    });
    expect(refused.code).toBe(7);
    expect(refused.json()).toMatchObject({
      ok: false,
      error: { code: "FORWARDED", exitCode: 7, details: { reason: "recipients", receivingAgency: "KHH-TAX" } },
    });
    expect(refused.stderr).toMatch(/not sealed for you.*\nsealpost: hint: .*--allow-forwarded/);
    await expect(readFile(join(dir, "forwarded.csv"))).rejects.toThrow();
    const allowed = await sealpost(
      ["open", "forwarded.csv.p7m", "--key", lin.p12, ...trustArgs, "--allow-forwarded", "--json"],
      { cwd: dir, env },
    );
    expect(allowed.code).toBe(0);
    const j = allowed.json() as { warnings: string[]; manifest: { recipients: string[] }; checks: string[] };
    expect(j.warnings.join(" ")).toMatch(/forwarded/);
    expect(j.manifest.recipients).toHaveLength(1);
    expect(j.checks).not.toContain("addressee");
    expect((await readFile(join(dir, "forwarded.csv"))).equals(data)).toBe(true);
    // the intended recipient opens the original, addressee checked
    const own = await sealpost(["open", "fwd.csv.p7m", "--key", wang().p12, ...trustArgs, "--json"], {
      cwd: dir,
      env: { SEALPOST_PIN: wang().pin },
    });
    expect(own.code).toBe(0);
    expect((own.json() as { checks: string[] }).checks).toContain("addressee");
  });
});

describe("names and file names from others are shown escaped", () => {
  it("a signer name and a manifest file name with a right-to-left override and a newline stay one visible line", async () => {
    const rlo = "\u202e";
    const issued = issueTestCertificate({
      dir,
      name: "bidi-signer",
      subject: `/C=TW/O=高雄市政府社會局/OU=KHH-SOC/CN=測試${rlo}人員`,
      notBefore: new Date("2025-01-01T00:00:00Z"),
      notAfter: new Date("2099-12-31T23:59:59Z"),
    });
    const r = await sealpost(
      [
        "seal",
        "batch.csv",
        "--to",
        wang().encrypt.cert,
        "--key",
        issued.p12,
        ...trustArgs,
        "--file-name",
        `名冊${rlo}vsc.exe\nSigner: 偽造`,
        "-o",
        "bidi.csv.p7m",
      ],
      { cwd: dir, env: { SEALPOST_PIN: issued.pin } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).not.toContain(rlo);
    const o = await sealpost(["open", "bidi.csv.p7m", "--key", wang().p12, ...trustArgs], {
      cwd: dir,
      env: { SEALPOST_PIN: wang().pin },
    });
    expect(o.code).toBe(0);
    const text = o.stdout.toString();
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain("測試\\u202e人員");
    expect(text).toContain("名冊\\u202evsc.exe\\nSigner: 偽造");
    expect(text).not.toMatch(/^Signer: 偽造/m);
  });
});

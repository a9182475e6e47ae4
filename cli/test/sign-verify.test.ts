import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPki, type PkiManifest, runTool, sealpost } from "./helpers.js";

// sign / verify through the binary, with a PKCS#12 and with an encrypted PEM key + certificate.

let dir: string;
let pki: PkiManifest;
let trustArgs: string[];
const data = Buffer.from("案件編號,結果\nC-2026-0042,已比對\n".repeat(200), "utf8");

beforeAll(async () => {
  pki = loadPki();
  dir = await mkdtemp(join(tmpdir(), "sealpost-cli-sign-"));
  await writeFile(join(dir, "result.csv"), data);
  trustArgs = [
    "--trust",
    pki.root.cert,
    "--intermediate",
    pki.intermediate.cert,
    "--crl",
    pki.intermediate.crl,
    "--crl",
    pki.root.crl,
  ];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sign and verify", () => {
  it("attached: sign with a .p12 (default FILE.p7s), verify -o writes the content", async () => {
    const lin = pki.people["soc-lin"]!;
    const s = await sealpost(["sign", "result.csv", "--key", lin.p12, ...trustArgs, "--json"], {
      cwd: dir,
      env: { SEALPOST_PIN: lin.pin },
    });
    expect(s.code).toBe(0);
    expect(s.json()).toMatchObject({
      ok: true,
      command: "sign",
      output: "result.csv.p7s",
      detached: false,
      signer: { commonName: "林志明" },
    });
    const v = await sealpost(["verify", "result.csv.p7s", ...trustArgs, "-o", "verified.csv", "--json"], { cwd: dir });
    expect(v.code).toBe(0);
    expect(v.json()).toMatchObject({
      ok: true,
      command: "verify",
      detached: false,
      signer: { commonName: "林志明", agency: "高雄市政府社會局 / KHH-SOC" },
      manifest: { fileName: "result.csv", byteSize: data.length },
      trust: { revocation: { source: "crl" } },
    });
    expect((await readFile(join(dir, "verified.csv"))).equals(data)).toBe(true);
  });

  it("detached with an encrypted PEM key + --cert; openssl verifies it; altered content is refused (exit 6)", async () => {
    const lin = pki.people["soc-lin"]!;
    const keyEnc = lin.sign.key.replace(/sign\.key\.pem$/, "sign.key.enc.pem");
    const s = await sealpost(
      ["sign", "result.csv", "--key", keyEnc, "--cert", lin.sign.cert, ...trustArgs, "--detached", "-o", "result.sig"],
      {
        cwd: dir,
        env: { SEALPOST_PIN: lin.pin },
      },
    );
    expect(s.code).toBe(0);
    const o = await runTool(
      "openssl",
      [
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "result.sig",
        "-content",
        "result.csv",
        "-CAfile",
        pki.intermediate.chain,
        "-out",
        "/dev/null",
      ],
      { cwd: dir },
    );
    expect(o.stderr).toMatch(/Verification successful/);
    const ok = await sealpost(["verify", "result.sig", "--content", "result.csv", ...trustArgs], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toMatch(/Verified result\.sig \(detached, content result\.csv\)/);
    await writeFile(join(dir, "altered.csv"), Buffer.concat([data, Buffer.from("x")]));
    const bad = await sealpost(["verify", "result.sig", "--content", "altered.csv", ...trustArgs, "--json"], {
      cwd: dir,
    });
    expect(bad.code).toBe(6);
    expect(bad.json()).toMatchObject({ ok: false, error: { code: "TAMPERED", exitCode: 6 } });
  });

  it("attached signature with --content: the given file must equal the signed content (exit 7 otherwise)", async () => {
    const lin = pki.people["soc-lin"]!;
    const s = await sealpost(["sign", "result.csv", "--key", lin.p12, ...trustArgs, "-o", "attached.p7s"], {
      cwd: dir,
      env: { SEALPOST_PIN: lin.pin },
    });
    expect(s.code).toBe(0);
    const same = await sealpost(["verify", "attached.p7s", "--content", "result.csv", ...trustArgs, "--json"], {
      cwd: dir,
    });
    expect(same.code).toBe(0);
    expect(same.json()).toMatchObject({ ok: true, detached: false, content: "result.csv" });
    expect(same.json().checks).toContain("given-content");
    await writeFile(join(dir, "other.csv"), "案件編號,結果\nC-2026-9999,偽造\n");
    await writeFile(join(dir, "same-size.csv"), Buffer.from(data).fill(0x41, 0, 1));
    for (const other of ["other.csv", "same-size.csv"]) {
      const bad = await sealpost(["verify", "attached.p7s", "--content", other, ...trustArgs, "--json"], {
        cwd: dir,
      });
      expect(bad.code).toBe(7);
      expect(bad.json()).toMatchObject({
        ok: false,
        error: { code: "BAD_SIGNATURE", exitCode: 7, details: { reason: "content-mismatch" } },
      });
      expect(bad.stderr).toMatch(/differs from the content signed in attached\.p7s/);
    }
    // with -o as well: nothing is written when the given content differs
    const withOut = await sealpost(
      ["verify", "attached.p7s", "--content", "other.csv", ...trustArgs, "-o", "never.csv"],
      { cwd: dir },
    );
    expect(withOut.code).toBe(7);
    expect((await readdir(dir)).filter((n) => n.includes("never.csv"))).toEqual([]);
  });

  it("inspect of a file signed by 李美玲 (BMPString O and CN) shows her name and agency correctly", async () => {
    const lee = pki.people["tax-lee"]!;
    const s = await sealpost(["sign", "result.csv", "--key", lee.p12, ...trustArgs, "-o", "lee.p7s"], {
      cwd: dir,
      env: { SEALPOST_PIN: lee.pin },
    });
    expect(s.code).toBe(0);
    const r = await sealpost(["inspect", "lee.p7s", "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const j = r.json() as unknown as {
      contentType: string;
      signers: Array<{ commonName: string; subject: string; digest: string }>;
      certificates: Array<{ commonName: string; agency: string }>;
    };
    expect(j.contentType).toBe("signedData");
    expect(j.signers[0]).toMatchObject({ commonName: "李美玲", digest: "sha256" });
    expect(j.signers[0]!.subject).toContain(`O=${pki.agencies["KHH-TAX"]!.name}`);
    expect(j.certificates[0]).toMatchObject({
      commonName: "李美玲",
      agency: `${pki.agencies["KHH-TAX"]!.name} / KHH-TAX`,
    });
  });

  it("a PEM key without its certificate is a usage error (exit 2) naming --cert", async () => {
    const r = await sealpost(
      ["sign", "result.csv", "--key", pki.people["soc-lin"]!.sign.key, ...trustArgs, "-o", "x.p7s"],
      {
        cwd: dir,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/without its certificate.*\nsealpost: hint: Add --cert/);
  });
});

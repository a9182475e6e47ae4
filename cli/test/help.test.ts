import { Writable } from "node:stream";
import { EXIT_CODE_DESCRIPTIONS } from "@sealpost/protocol";
import { describe, expect, it } from "vitest";
import { run } from "../src/main.js";
import { loadPki } from "./helpers.js";

// Help and usage errors, in process (no spawn needed): run() returns the exit code and writes to the given streams.

function sink() {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(c, _e, cb) {
        chunks.push(String(c));
        cb();
      },
    }),
    text: () => chunks.join(""),
  };
}

async function cli(...args: string[]) {
  const out = sink();
  const err = sink();
  const code = await run(
    ["node", "sealpost", ...args],
    { PATH: "/usr/bin" },
    { stdout: out.stream, stderr: err.stream },
  );
  return { code, stdout: out.text(), stderr: err.text() };
}

describe("help", () => {
  it("the root help lists every command, the config fields, the environment and every exit code", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    for (const c of ["seal", "open", "inspect", "sign", "verify", "cert"])
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    for (const f of ["trust", "intermediates", "crls", "crlDir", "revocation", "keystore", "server"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${f}\\s`, "m"));
    }
    expect(r.stdout).toContain("SEALPOST_PIN");
    for (const [n, d] of Object.entries(EXIT_CODE_DESCRIPTIONS)) expect(r.stdout).toContain(`${n.padStart(2)}  ${d}`);
  });

  it.each([["seal"], ["open"], ["inspect"], ["sign"], ["verify"], ["cert", "show"], ["cert", "check"]])(
    "`%s --help` has options and an Examples section",
    async (...cmd) => {
      const r = await cli(...cmd, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: sealpost ${cmd.join(" ")}`);
      expect(r.stdout).toMatch(/\nExamples:\n {2}sealpost /);
      expect(r.stdout).toContain("--json");
    },
  );
});

describe("usage errors exit 2 with `sealpost: error:` and a hint", () => {
  it.each([
    { args: ["seal", "x.csv", "--key", "k.p12"], msg: /No recipients/ },
    { args: ["seal", "x.csv", "--to", "c.pem", "--profile", "s.json"], msg: /either --profile or --to/ },
    { args: ["seal", "x.csv", "--to", "c.pem", "--cipher", "des"], msg: /argument 'des' is invalid/ },
    { args: ["seal", "x.csv", "--to", "c.pem", "--records", "many"], msg: /expected a whole number/ },
    { args: ["cert", "check", "c.pem", "--at", "yesterday"], msg: /ISO 8601/ },
    { args: ["frobnicate"], msg: /unknown command 'frobnicate'/ },
    { args: ["open", "x.p7m", "--pin=1234"], msg: /There is no --pin option/ },
  ])("$args", async ({ args, msg }) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sealpost: error: /);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toMatch(/\nsealpost: hint: /);
    expect(r.stdout).toBe("");
  });

  it("--json usage errors are one JSON object on stdout too", async () => {
    const r = await cli("--json", "seal", "x.csv");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "USAGE", exitCode: 2 } });
  });

  it("--json cannot share stdout with -o -", async () => {
    const r = await cli("seal", "-", "--to", "c.pem", "-o", "-", "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toMatch(/--json cannot be combined with -o -/);
  });
});

describe("keystore errors (in process)", () => {
  it("a certificate or a random file given as --key: KEYSTORE, exit 5, with a hint", async () => {
    const pki = loadPki();
    const input = pki.root.cert;
    for (const key of [pki.people["tax-wang"]!.sign.cert, pki.root.crl]) {
      const r = await cli(
        "sign",
        input,
        "--key",
        key,
        "--trust",
        pki.root.cert,
        "-o",
        "/nonexistent/never-written.p7s",
        "--json",
      );
      expect(r.code).toBe(5);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "KEYSTORE", exitCode: 5 } });
      expect(r.stderr).toMatch(/^sealpost: error: Cannot open the keystore .*\nsealpost: hint: /);
    }
  });
});

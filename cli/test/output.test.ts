import { Writable } from "node:stream";
import { SealpostError } from "@sealpost/protocol";
import { describe, expect, it } from "vitest";
import { Output, terminalSafe } from "../src/output.js";

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("Output", () => {
  it("--json: one object on stdout with ok, command, result fields, ISO dates and the warnings", () => {
    const o = sink();
    const e = sink();
    const out = new Output({ json: true, quiet: false, stdout: o.stream, stderr: e.stream });
    out.line("not shown");
    out.warn("careful");
    out.result("seal", { when: new Date("2026-01-02T03:04:05Z"), n: 1 });
    out.result("seal", { again: true });
    const lines = o.text().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      ok: true,
      command: "seal",
      when: "2026-01-02T03:04:05.000Z",
      n: 1,
      warnings: ["careful"],
    });
    expect(e.text()).toBe("sealpost: warning: careful\n");
  });

  it("errors: human line + hint on stderr and, with --json, the error object on stdout; no stack", () => {
    const o = sink();
    const e = sink();
    const out = new Output({ json: true, quiet: false, stdout: o.stream, stderr: e.stream });
    const code = out.error(new SealpostError("TAMPERED", "The file was altered.", { hint: "Ask for it again." }), {});
    expect(code).toBe(6);
    expect(JSON.parse(o.text())).toEqual({
      ok: false,
      error: { code: "TAMPERED", message: "The file was altered.", exitCode: 6, hint: "Ask for it again." },
    });
    expect(e.text()).toBe("sealpost: error: The file was altered. [TAMPERED]\nsealpost: hint: Ask for it again.\n");
  });

  it("internal errors exit 1, and show a stack only with SEALPOST_DEBUG=1", () => {
    const e1 = sink();
    const out1 = new Output({ json: false, quiet: false, stdout: sink().stream, stderr: e1.stream });
    expect(out1.error(new TypeError("boom"), {})).toBe(1);
    expect(e1.text()).toMatch(/^sealpost: error: internal error: boom\nsealpost: hint: .*SEALPOST_DEBUG=1/);
    expect(e1.text()).not.toContain("    at ");
    const e2 = sink();
    const out2 = new Output({ json: false, quiet: false, stdout: sink().stream, stderr: e2.stream });
    out2.error(new TypeError("boom"), { SEALPOST_DEBUG: "1" });
    expect(e2.text()).toContain("    at ");
  });

  it("human report moves to stderr when stdout carries content; --quiet silences it", () => {
    const o = sink();
    const e = sink();
    const out = new Output({ json: false, quiet: false, stdout: o.stream, stderr: e.stream });
    out.useStdoutForData();
    out.fields([
      ["Signer", "王小明"],
      ["Agency", undefined],
    ]);
    expect(o.text()).toBe("");
    expect(e.text()).toBe("Signer: 王小明\n");
    const q = sink();
    new Output({ json: false, quiet: true, stdout: q.stream, stderr: q.stream }).line("x");
    expect(q.text()).toBe("");
  });

  it("makes control characters from certificates visible instead of sending them to the terminal", () => {
    expect(terminalSafe("王小明\x1b]0;owned\x07\u009b2J\tok\nnext")).toBe("王小明\\x1b]0;owned\\x07\\x9b2J\tok\nnext");
    const e = sink();
    const out = new Output({ json: false, quiet: false, stdout: e.stream, stderr: e.stream });
    out.line("CN=\x1b[31mred");
    out.warn("evil\x1b[2J");
    out.error(new SealpostError("UNTRUSTED", "signer \x1b[1mX", { hint: "\x07" }), {});
    expect(e.text()).not.toContain("\x1b");
    expect(e.text()).not.toContain("\x07");
    expect(e.text()).toContain("CN=\\x1b[31mred");
  });
});

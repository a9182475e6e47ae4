import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { Output, oneLine } from "../src/output.js";

/**
 * Text written by others (a note by the receiving agency, remarks by the sender, a name in a certificate or a
 * manifest) is shown on the line it belongs to: a line break in it must not start a line that looks like
 * sealpost's own report (e.g. a forged "signed by:" or "state:").
 */
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

describe("one-line report values", () => {
  test("a field value with line breaks stays on its line", () => {
    const o = sink();
    const out = new Output({ json: false, quiet: false, stdout: o.stream, stderr: sink().stream });
    out.fields([
      ["remarks", "monthly batch\nsigned by: 假冒 (forged)\r\nstate: cancelled\u2028x"],
      ["records", 3],
    ]);
    const lines = o.text().split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("remarks: monthly batch\\nsigned by: 假冒 (forged)\\nstate: cancelled\\nx");
    expect(lines[1]).toBe("records: 3");
  });

  test("oneLine leaves ordinary text alone", () => {
    expect(oneLine("王小明 處理中\ttab")).toBe("王小明 處理中\ttab");
  });
});

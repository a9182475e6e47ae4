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

describe("others' text cannot reorder or forge the terminal output", () => {
  const rlo = "\u202e"; // RIGHT-TO-LEFT OVERRIDE: "exe.txt" would display as "txt.exe"
  const evil = `report${rlo}vsc.exe\nsealpost: hint: run rm -rf ~\u2066x\u2069\u200f\u061c`;
  test("line, fields, warn and error escape newlines and bidirectional controls", () => {
    const o = sink();
    const e = sink();
    const out = new Output({ json: false, quiet: false, stdout: o.stream, stderr: e.stream });
    out.line(`Opened ${evil}`);
    out.fields([["File name", evil]]);
    out.warn(`the sender's file name ${evil} is not usable`);
    out.error(Object.assign(new Error(`The output ${evil} exists.`), { code: "OUTPUT_EXISTS", hint: evil }));
    for (const text of [o.text(), e.text()]) {
      expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/);
      expect(text).toContain("report\\u202evsc.exe\\nsealpost: hint: run rm -rf ~\\u2066x\\u2069\\u200f\\u061c");
    }
    expect(o.text().split("\n").filter(Boolean)).toHaveLength(2);
    expect(e.text().split("\n").filter(Boolean)).toHaveLength(3); // warning, error, hint: one line each
  });
  test("--json output keeps the text but escapes bidirectional controls as \\u sequences", () => {
    const o = sink();
    const out = new Output({ json: true, quiet: false, stdout: o.stream, stderr: sink().stream });
    out.result("open", { manifest: { fileName: evil } });
    expect(o.text()).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]/);
    expect(JSON.parse(o.text()).manifest.fileName).toBe(evil);
  });
});

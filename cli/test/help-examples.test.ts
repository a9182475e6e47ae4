import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { sealpost } from "./helpers.js";

/** Every round-trip and admin command's --help ends with examples of its use, each a `sealpost` command line. */
const work = mkdtempSync(join(tmpdir(), "sealpost-help-examples-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const COMMANDS = [
  "login",
  "logout",
  "send",
  "cases",
  "case show",
  "receive",
  "note",
  "reply",
  "result",
  "cancel",
  "receipt",
  ...["add", "allow", "revoke", "list"].map((c) => `admin agency ${c}`),
  ...["add", "list", "revoke"].map((c) => `admin user ${c}`),
  ...["add", "list", "revoke"].map((c) => `admin cert ${c}`),
  ...["add", "list", "revoke"].map((c) => `admin category ${c}`),
];

test.each(COMMANDS)("sealpost %s --help has examples", async (command) => {
  const r = await sealpost([...command.split(" "), "--help"], { cwd: work });
  expect(r.code, r.stderr).toBe(0);
  const text = r.stdout.toString("utf8");
  const examples = text.slice(text.search(/\nExamples?:\n/));
  expect(examples, text).toMatch(new RegExp(`\\n  sealpost ${command}( |\\n|$)`));
});

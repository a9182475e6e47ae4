import { EventEmitter } from "node:events";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promptPin, type RawInput, readPinFile, resolvePin } from "../src/pin.js";

/** A stand-in terminal: records raw-mode switches and lets the test type keys. */
class FakeTty extends EventEmitter implements RawInput {
  rawModes: boolean[] = [];
  closed = false;
  setRawMode(mode: boolean) {
    this.rawModes.push(mode);
    return this;
  }
  resume() {
    return this;
  }
  pause() {
    return this;
  }
  type(text: string) {
    this.emit("data", Buffer.from(text, "utf8"));
  }
}

function fakeStderr() {
  const chunks: string[] = [];
  return {
    isTTY: true,
    chunks,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY: boolean; chunks: string[] };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sealpost-pin-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("promptPin", () => {
  it("prints the prompt to stderr, reads in raw mode, echoes nothing and restores the mode", async () => {
    const tty = new FakeTty();
    const err = fakeStderr();
    const p = promptPin("alice.p12", {
      promptStream: err,
      openTerminal: () => ({ input: tty, close: () => (tty.closed = true) }),
    });
    tty.type("秘密");
    tty.type("12x\x7f3");
    tty.type("\r");
    await expect(p).resolves.toBe("秘密123");
    expect(err.chunks.join("")).toBe("PIN for alice.p12: \n");
    expect(tty.rawModes).toEqual([true, false]);
    expect(tty.closed).toBe(true);
  });

  it("ignores escape sequences and clears the line on Ctrl-U", async () => {
    const tty = new FakeTty();
    const p = promptPin("k.p12", { promptStream: fakeStderr(), openTerminal: () => ({ input: tty, close: () => {} }) });
    tty.type("wrong\x15");
    tty.type("\x1b[A");
    tty.type("ok\n");
    await expect(p).resolves.toBe("ok");
  });

  it("Ctrl-C aborts with PIN_ABORTED and still restores the terminal", async () => {
    const tty = new FakeTty();
    const p = promptPin("k.p12", { promptStream: fakeStderr(), openTerminal: () => ({ input: tty, close: () => {} }) });
    tty.type("12\x03");
    await expect(p).rejects.toMatchObject({ code: "PIN_ABORTED" });
    expect(tty.rawModes).toEqual([true, false]);
  });

  it("without a terminal on stderr: PIN_REQUIRED naming SEALPOST_PIN and --pin-file", async () => {
    const err = { isTTY: false, write: () => true } as unknown as NodeJS.WritableStream;
    const p = promptPin("k.p12", {
      promptStream: err,
      openTerminal: () => ({ input: new FakeTty(), close: () => {} }),
    });
    await expect(p).rejects.toMatchObject({
      code: "PIN_REQUIRED",
      hint: expect.stringMatching(/SEALPOST_PIN.*--pin-file/),
    });
  });
});

describe("resolvePin", () => {
  it("prefers --pin-file, then SEALPOST_PIN, then the prompt", async () => {
    const file = join(dir, "pin.txt");
    await writeFile(file, "from-file\r\nsecond line\n", { mode: 0o600 });
    await expect(resolvePin("k", { pinFile: file, env: { SEALPOST_PIN: "from-env" } })).resolves.toEqual({
      pin: "from-file",
      source: "pin-file",
    });
    await expect(resolvePin("k", { env: { SEALPOST_PIN: "from-env" } })).resolves.toEqual({
      pin: "from-env",
      source: "env",
    });
    const tty = new FakeTty();
    const p = resolvePin("k", {
      env: {},
      promptStream: fakeStderr(),
      openTerminal: () => ({ input: tty, close: () => {} }),
    });
    tty.type("typed\r");
    await expect(p).resolves.toEqual({ pin: "typed", source: "prompt" });
  });

  it("an empty SEALPOST_PIN is an (empty) PIN, not a missing one", async () => {
    await expect(resolvePin("k", { env: { SEALPOST_PIN: "" } })).resolves.toEqual({ pin: "", source: "env" });
  });
});

describe("readPinFile", () => {
  it("warns when the file is readable by others, and reads only the first line", async () => {
    const file = join(dir, "open-pin.txt");
    await writeFile(file, "1234\n5678\n");
    await chmod(file, 0o644);
    const warnings: string[] = [];
    await expect(readPinFile(file, (w) => warnings.push(w))).resolves.toBe("1234");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("chmod 600");
    await chmod(file, 0o600);
    warnings.length = 0;
    await readPinFile(file, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
  });

  it("a missing file is an IO error that does not echo any content", async () => {
    await expect(readPinFile(join(dir, "absent"))).rejects.toMatchObject({ code: "IO" });
  });
});

import { describe, expect, it } from "vitest";
import { createProgress, formatDuration, renderProgress } from "../src/progress.js";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return {
    isTTY,
    columns: 100,
    chunks,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY: boolean; chunks: string[] };
}

const MiB = 1024 * 1024;

describe("progress", () => {
  it("renders bytes, percentage, rate and time left", () => {
    const line = renderProgress({ label: "sealing", bytes: 50 * MiB, total: 100 * MiB, elapsedMs: 5000 });
    expect(line).toMatch(/^sealing \[#+-+\] {2}50% {2}50\.0 MiB \/ 100\.0 MiB {2}10\.0 MiB\/s {2}0:05 left$/);
    expect(renderProgress({ label: "reading", bytes: 20 * MiB, elapsedMs: 2000 })).toBe("reading 20.0 MiB  10.0 MiB/s");
  });

  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65)).toBe("1:05");
    expect(formatDuration(3725)).toBe("1:02:05");
  });

  it("draws on a terminal for large files, throttled, and erases the line when done", () => {
    const s = fakeStream(true);
    let t = 0;
    const p = createProgress({ label: "opening", total: 64 * MiB, stream: s, now: () => t });
    expect(p.enabled).toBe(true);
    t = 1000;
    p.update(8 * MiB);
    t = 1050; // within the redraw interval: skipped
    p.update(9 * MiB);
    t = 2000;
    p.update(64 * MiB);
    p.done();
    p.done();
    expect(s.chunks).toHaveLength(3);
    expect(s.chunks[0]).toMatch(/^\ropening \[.*12%/);
    expect(s.chunks[1]).toMatch(/100%/);
    expect(s.chunks[2]).toBe("\r\x1b[K");
  });

  it.each([
    { name: "not a terminal", tty: false, quiet: false, total: 64 * MiB },
    { name: "--quiet", tty: true, quiet: true, total: 64 * MiB },
    { name: "a small file", tty: true, quiet: false, total: 1 * MiB },
  ])("draws nothing for $name", ({ tty, quiet, total }) => {
    const s = fakeStream(tty);
    const p = createProgress({ label: "x", total, stream: s, quiet, now: () => 5000 });
    p.update(total);
    p.done();
    expect(s.chunks).toEqual([]);
  });

  it("with an unknown total (stdin), starts drawing only after the threshold", () => {
    const s = fakeStream(true);
    let t = 0;
    const p = createProgress({ label: "sealing", stream: s, now: () => t });
    t = 500;
    p.update(1 * MiB);
    expect(s.chunks).toEqual([]);
    t = 1000;
    p.update(10 * MiB);
    expect(s.chunks[0]).toMatch(/^\rsealing 10\.0 MiB/);
  });
});
